"""Streaming readers for import files: CSV (with a header) or JSON Lines, one row at a time.

Pure Python, no Django. Each row comes with its line number (the header is line 1), and the
reader reports how many bytes it has consumed so a progress bar can follow a file of any size.
Memory stays constant: nothing is read ahead beyond the current line.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


class FileRefused(Exception):
    """The file as a whole cannot be read (missing, wrong header, not text)."""


class RowReader:
    """Iterate `(line_number, row)`; a row is a dict, or a `BadLine` for a line that does not parse."""

    def __init__(self, path: str | Path, *, required: tuple[str, ...], optional: tuple[str, ...] = (),
                 extra_columns_allowed: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileRefused(f"{self.path}: no such file")
        self.size = self.path.stat().st_size
        self.is_csv = self.path.suffix.lower() not in JSONL_SUFFIXES
        self.required, self.optional = required, optional
        self.extra_columns_allowed = extra_columns_allowed
        self.extra_columns: frozenset[str] = frozenset()
        # Text mode, iterated by the csv/json C code: a Python generator per line costs more than parsing.
        self._file: TextIO = self.path.open(encoding="utf-8-sig", newline="")
        if self.is_csv:
            self._csv = csv.reader(self._file)
            self.header = self._read_header()

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got (to the read buffer's granularity), for progress bars."""
        return self._file.buffer.tell()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_header(self) -> list[str]:
        try:
            header = [h.strip() for h in next(self._csv)]
        except StopIteration:
            raise FileRefused(f"{self.path}: the file is empty; expected a header line")
        except UnicodeDecodeError as exc:
            raise FileRefused(f"{self.path}: not UTF-8 text ({exc.reason})")
        except csv.Error as exc:
            raise FileRefused(f"{self.path}: line 1: {exc}")
        missing = [c for c in self.required if c not in header]
        if missing:
            raise FileRefused(f"{self.path}: the header lacks {', '.join(missing)} (found: {', '.join(header)}); "
                              f"required: {', '.join(self.required)}; optional: {', '.join(self.optional)}")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise FileRefused(f"{self.path}: the header repeats {', '.join(dupes)}")
        extra = [h for h in header if h not in self.required and h not in self.optional]
        if extra and not self.extra_columns_allowed:
            raise FileRefused(f"{self.path}: unknown column(s) {', '.join(extra)}; "
                              f"allowed: {', '.join(self.required + self.optional)}")
        self.extra_columns = frozenset(extra)
        return header

    def __iter__(self) -> Iterator[tuple[int, dict | BadLine]]:
        return self._iter_csv() if self.is_csv else self._iter_jsonl()

    def _iter_csv(self):
        header, width = self.header, len(self.header)
        reader = self._csv
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise FileRefused(f"{self.path}: around line {start}: not UTF-8 text ({exc.reason})")
            except csv.Error as exc:
                yield start, BadLine(f"not valid CSV: {exc}")
                continue
            if not cells:  # blank line
                continue
            if len(cells) != width:
                yield start, BadLine(f"has {len(cells)} cells; the header has {width}")
                continue
            yield start, dict(zip(header, cells, strict=True))

    def _iter_jsonl(self):
        number = 0
        try:
            for number, line in enumerate(self._file, start=1):  # noqa: B007 - used after the loop
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except ValueError as exc:
                    yield number, BadLine(f"not valid JSON: {exc}")
        except UnicodeDecodeError as exc:
            raise FileRefused(f"{self.path}: around line {number + 1}: not UTF-8 text ({exc.reason})")


class BadLine:
    """A line that could not be parsed into a row at all."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message
