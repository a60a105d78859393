import csv
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from engine.lines import lines_priced, lines_with_tail
from leads.cli import iso_z
from leadscoring.tables import escape_formula
from matrix.selectors import VersionSpecs
from scoring.models import Score

CSV_COLUMNS = ("lead", "model", "as_of", "score", "fit", "engagement", "segment", "tier", "grade", "mql")


def export_line(row: dict) -> dict:
    """The export line of spec section 8 from a stored score."""
    return {
        "lead": row["lead__external_id"],
        "model": row["scoring_model__slug"],
        "as_of": iso_z(row["as_of"]),
        "score": float(row["score"]),
        "fit": float(row["fit"]),
        "engagement": float(row["engagement"]),
        "segment": row["segment"],
        "tier": row["tier"],
        "grade": row["grade"],
        "mql": bool(row["mql"]),
        "breakdown": [_line(x) for x in row.get("breakdown") or []],
    }


def _line(x: dict) -> dict:
    out = dict(x)
    out["points"] = float(x["points"])
    if "count" in out:
        out["count"] = int(out["count"])
    return out


def _with_breakdown():
    """Each row with its `breakdown`: the stored lines, priced by the score's version if the score
    was made from stored counts (as Score.breakdown does)."""
    specs = VersionSpecs()

    def add(row: dict) -> dict:
        lines, basis = lines_with_tail(row.get("breakdown_row__lines") or [], row.get("lines_tail")), row.get("basis")
        # A version whose stored document no longer validates: its lines as stored (docs/scoring.md).
        spec = specs.readable(row["version_id"]) if basis is not None else None
        if spec is not None:
            lines = lines_priced(lines, spec=spec, basis=basis)
        return {**row, "breakdown": lines}

    return add


class Command(BaseCommand):
    help = (
        "Write the current scores as JSON lines (spec section 8) or CSV (without the breakdown; text "
        "cells a spreadsheet would run as a formula start with an apostrophe)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", help="slug of one model (default: all)")
        parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
        parser.add_argument("--output", default="-", help="file to write, or - for standard output")

    def handle(self, model, format, output, **options):
        scores = Score.objects.order_by("lead__external_id", "scoring_model__slug")
        if model:
            if not scores.filter(scoring_model__slug=model).exists():
                raise CommandError(f"no scores for model {model!r}")
            scores = scores.filter(scoring_model__slug=model)
        # The breakdown lines come from their own table, by a join in the same query (a LEFT JOIN:
        # a score without stored lines exports an empty breakdown).
        columns = ["lead__external_id", "scoring_model__slug", *CSV_COLUMNS[2:]]
        if format == "jsonl":
            columns += ["breakdown_row__lines", "lines_tail", "basis", "version_id"]
        rows = map(_with_breakdown(), scores.values(*columns).iterator(chunk_size=5000))
        fh = sys.stdout if output == "-" else open(output, "w", encoding="utf-8", newline="")
        try:
            if format == "csv":
                writer = csv.writer(fh)
                writer.writerow(CSV_COLUMNS)
                for row in rows:
                    line = export_line(row)
                    # Lead ids and labels come from CRMs and editors: escaped as the pages' exports are.
                    writer.writerow([escape_formula(line[c]) for c in CSV_COLUMNS])
            else:
                for row in rows:
                    fh.write(json.dumps(export_line(row), ensure_ascii=False) + "\n")
        finally:
            if fh is not sys.stdout:
                fh.close()
