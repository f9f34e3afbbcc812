"""File imports (import_items, import_events): streamed in chunks, one transaction, all or nothing.

The file is read once, row by row; each chunk is validated exactly as the API validates a batch
and written with the same writers. Everything happens in one transaction: a file with bad rows
is rolled back whole (nothing half-imported) unless `skip_bad`, which stores the good rows and
reports the bad. Memory stays flat: one chunk, a bounded id cache and the first bad rows.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from tqdm import tqdm

from recsys.readers import BadLine, RowReader
from recsys.services.ingest import EventWriter, IngestCounts, event_rules, item_rows_write
from recsys.validation import ITEM_FIELDS, RowError, clean_event, clean_item, dedupe_events, dedupe_items

CHUNK_ROWS = 10_000
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
    writer = EventWriter(auto_create_items=auto_create_items, cache_ids=True)

    def write_chunk(chunk: list[tuple[int, dict]], from_text: bool, report: ImportReport, _reader) -> None:
        errors: list[RowError] = []
        rows = [r for line, raw in chunk if (r := clean_event(raw, line, rules, errors, from_text=from_text))]
        rows, duplicates = dedupe_events(rows, errors, unit="line")
        writer.counts.duplicates += duplicates
        writer.write(rows, errors)
        report.note(errors)

    report = _import(path, EVENT_COLUMNS, write_chunk, skip_bad=skip_bad, progress=progress, unit="events")
    report.counts = writer.counts
    return report


def items_import(*, path: str, skip_bad: bool = False, progress: bool | None = None) -> ImportReport:
    totals = IngestCounts()

    def write_chunk(chunk: list[tuple[int, dict]], from_text: bool, report: ImportReport, reader) -> None:
        errors: list[RowError] = []
        rows = [r for line, raw in chunk
                if (r := clean_item(raw, line, errors, from_text=from_text, attribute_columns=reader.extra_columns))]
        report.note(errors)
        if rows:
            totals.add(item_rows_write(rows=dedupe_items(rows)))

    report = _import(path, ITEM_COLUMNS, write_chunk, skip_bad=skip_bad, progress=progress, unit="items",
                     extra_columns_allowed=True)
    report.counts = totals
    return report


def _import(path: str, columns: tuple[tuple[str, ...], tuple[str, ...]], write_chunk: Callable, *,
            skip_bad: bool, progress: bool | None, unit: str, extra_columns_allowed: bool = False) -> ImportReport:
    started = time.perf_counter()
    report = ImportReport(path=str(path))
    with RowReader(path, required=columns[0], optional=columns[1],
                   extra_columns_allowed=extra_columns_allowed) as reader, \
            tqdm(total=reader.size, unit="B", unit_scale=True, desc=f"import {unit}", disable=_disable(progress),
                 mininterval=0.5) as bar, \
            transaction.atomic():
        for chunk in _chunked(reader, report):
            write_chunk(chunk, reader.is_csv, report, reader)
            bar.update(reader.bytes_read - bar.n)
        report.committed = skip_bad or report.bad_rows == 0
        if not report.committed:
            transaction.set_rollback(True)  # nothing half-imported
    report.seconds = time.perf_counter() - started
    return report


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
