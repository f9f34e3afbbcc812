"""What import_items and import_events share: arguments and the end-of-run summary."""
from django.core.management.base import BaseCommand, CommandError

from recsys.ingest.imports import ImportReport


def add_import_arguments(parser) -> None:
    parser.add_argument("path", help="A .csv file with a header line, or JSON Lines (.jsonl/.ndjson/.json).")
    parser.add_argument("--skip-bad", action="store_true",
                        help="Store the good rows and report the bad ones (default: refuse the whole file).")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar (default: on a terminal).")


def finish(command: BaseCommand, report: ImportReport, noun: str, stored: str) -> None:
    """Print bad lines (stderr) and the summary; raise CommandError (exit 1) if the file was refused."""
    for error in sorted(report.errors):
        where = f"line {error.index}" + (f", {error.field}" if error.field else "")
        command.stderr.write(f"{report.path}: {where}: {error.message}")
    if report.bad_rows > len({e.index for e in report.errors}):
        command.stderr.write(f"... {report.bad_rows:,} bad rows in all; the first {len(report.errors)} problems "
                             "are listed above.")
    rate = report.rows / report.seconds if report.seconds else 0.0
    if not report.committed:
        raise CommandError(f"{report.path}: refused, nothing imported: {report.bad_rows:,} bad row(s) of "
                           f"{report.rows:,} (lines listed above). Fix them, or pass --skip-bad to import the rest.")
    skipped = f", {report.bad_rows:,} bad rows skipped" if report.bad_rows else ""
    command.stdout.write(command.style.SUCCESS(
        f"Imported {report.path}: {report.rows:,} {noun} rows in {report.seconds:.1f} s ({rate:,.0f} rows/s): "
        f"{stored}{skipped}."))
