"""File imports (import_items, import_events): streamed in chunks, one transaction, all or nothing.

The file is read once, row by row; each chunk is validated exactly as the API validates a batch
and written with the same writers. Everything happens in one transaction: a file with bad rows
is rolled back whole (nothing half-imported) unless `skip_bad`, which stores the good rows and
reports the bad. Memory stays flat: one chunk, a bounded id cache and the first bad rows.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from tqdm import tqdm

from recsys.ingest.files import BadLine, RowReader
from recsys.ingest.services import EventWriter, IngestCounts, event_rules, item_rows_write
from recsys.ingest.validation import (
    ITEM_FIELDS,
    EventRow,
    ItemRow,
    RowError,
    clean_event,
    clean_item,
    clean_text_events,
    dedupe_events,
    dedupe_items,
)

# Large chunks amortise round trips and statement overheads; memory stays flat (two chunks at most).
CHUNK_ROWS = 50_000
ERRORS_KEPT = 1_000

EVENT_COLUMNS = (("user_id", "item_id"), ("type", "value", "timestamp", "event_id", "recommendation_id"))
ITEM_COLUMNS = (("item_id", "title", "category"), tuple(sorted(ITEM_FIELDS - {"item_id", "title", "category"})))


@dataclass
class ImportReport:
    path: str
    rows: int = 0
    bad_rows: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first ERRORS_KEPT, by line
    counts: IngestCounts = field(default_factory=IngestCounts)
    seconds: float = 0.0
    committed: bool = False

    def note(self, new_errors: list[RowError]) -> None:
        last = None
        for error in sorted(new_errors):
            if error.index != last:
                self.bad_rows += 1
                last = error.index
            if len(self.errors) < ERRORS_KEPT:
                self.errors.append(error)


def events_import(*, path: str, skip_bad: bool = False, progress: bool | None = None,
                  auto_create_items: bool | None = None) -> ImportReport:
    rules = event_rules()
    writer = EventWriter(auto_create_items=auto_create_items, cache_ids=True, bulk=True)
    in_chunk_duplicates = 0  # counted here; the writer's counts belong to the writer thread
    if connection.vendor == "sqlite":  # this process's connection: a larger page cache for the indexes
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -32768")  # KiB: bounded, so memory stays flat

    def prepare(chunk: list[tuple[int, dict]], reader: RowReader) -> tuple[list[EventRow], list[RowError]]:
        nonlocal in_chunk_duplicates
        errors: list[RowError] = []
        if reader.is_csv:
            rows = clean_text_events(chunk, rules, errors)
        else:
            rows = [r for line, raw in chunk if (r := clean_event(raw, line, rules, errors))]
        rows, duplicates = dedupe_events(rows, errors, unit="line")
        in_chunk_duplicates += duplicates
        return rows, errors

    def write(rows: list[EventRow]) -> list[RowError]:
        errors: list[RowError] = []
        writer.write(rows, errors)
        return errors

    report = _import(path, EVENT_COLUMNS, prepare, write, skip_bad=skip_bad, progress=progress, unit="events")
    writer.counts.duplicates += in_chunk_duplicates
    report.counts = writer.counts
    return report


def items_import(*, path: str, skip_bad: bool = False, progress: bool | None = None) -> ImportReport:
    totals = IngestCounts()

    def prepare(chunk: list[tuple[int, dict]], reader: RowReader) -> tuple[list[ItemRow], list[RowError]]:
        errors: list[RowError] = []
        rows = [r for line, raw in chunk if (r := clean_item(raw, line, errors, from_text=reader.is_csv,
                                                             attribute_columns=reader.extra_columns))]
        return dedupe_items(rows), errors

    def write(rows: list[ItemRow]) -> list[RowError]:
        totals.add(item_rows_write(rows=rows))
        return []

    report = _import(path, ITEM_COLUMNS, prepare, write, skip_bad=skip_bad, progress=progress, unit="items",
                     extra_columns_allowed=True)
    report.counts = totals
    return report


def _import(path: str, columns: tuple[tuple[str, ...], tuple[str, ...]], prepare: Callable, write: Callable, *,
            skip_bad: bool, progress: bool | None, unit: str, extra_columns_allowed: bool = False) -> ImportReport:
    """Read and validate chunk n+1 (this thread) while chunk n is written (one worker thread).

    The worker uses this thread's connection, inside this thread's transaction: the two never touch
    it at the same time (this thread waits for the previous write before queueing the next).
    """
    started = time.perf_counter()
    report = ImportReport(path=str(path))
    conn = connections[DEFAULT_DB_ALIAS]
    with RowReader(path, required=columns[0], optional=columns[1],
                   extra_columns_allowed=extra_columns_allowed) as reader, \
            tqdm(total=reader.size, unit="B", unit_scale=True, desc=f"import {unit}", disable=_disable(progress),
                 mininterval=0.5) as bar, \
            transaction.atomic():
        conn.inc_thread_sharing()
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="import-writer",
                                    initializer=_use_connection, initargs=(conn,)) as pool:
                pending = None
                for chunk in _chunked(reader, report):
                    rows, errors = prepare(chunk, reader)
                    report.note(errors)
                    if pending is not None:
                        report.note(pending.result())
                    pending = pool.submit(write, rows) if rows else None
                    bar.update(reader.bytes_read - bar.n)
                if pending is not None:
                    report.note(pending.result())
        finally:
            conn.dec_thread_sharing()
        report.committed = skip_bad or report.bad_rows == 0
        if not report.committed:
            transaction.set_rollback(True)  # nothing half-imported
    report.seconds = time.perf_counter() - started
    return report


def _use_connection(conn) -> None:
    connections[conn.alias] = conn  # this worker thread's ORM and cursors go to the importer's connection


def _chunked(reader: Iterable, report: ImportReport):
    chunk: list[tuple[int, dict]] = []
    for line, raw in reader:
        report.rows += 1
        if isinstance(raw, BadLine):
            report.note([RowError(line, "", raw.message)])
            continue
        chunk.append((line, raw))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _disable(progress: bool | None) -> bool | None:
    return None if progress is None else not progress  # None: tqdm shows the bar on a terminal only
