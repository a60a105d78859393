"""Shared reporting for the import commands."""

from django.core.management.base import CommandError

from leads.rows import RowError, RowReport, check_readable, read_rows


def rows_or_fail(path: str, nested: str):
    try:
        check_readable(path)
        return read_rows(path, nested)
    except RowError as exc:
        raise CommandError(str(exc)) from None


def write_report(command, report: RowReport, noun: str, limit: int = 50) -> None:
    for line, reason in report.rejected[:limit]:
        command.stderr.write(f"line {line}: rejected: {reason}")
    if len(report.rejected) > limit:
        command.stderr.write(f"... and {len(report.rejected) - limit} more rejected rows")
    command.stdout.write(report.summary(noun))
