import json
import sys

from django.core.management.base import BaseCommand, CommandError

from engine.document import DocumentError, load_document_file, parse_document
from engine.single import EventData, LeadData, score_lead
from leads.cli import iso_z, parse_as_of
from leads.rows import RowError, check_readable, parse_event, parse_lead, read_rows


class Command(BaseCommand):
    help = "Dry run: score leads and events given as files with a model file, touching no database."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="model document (.json or .yaml)")
        parser.add_argument("--leads", required=True, help="leads (.jsonl or .csv)")
        parser.add_argument("--events", required=True, help="events (.jsonl or .csv)")
        parser.add_argument("--as-of", dest="as_of", help="ISO 8601 instant (default: now)")
        parser.add_argument("--output", default="-", help="file to write, or - for standard output")

    def handle(self, model, leads, events, as_of, output, **options):
        as_of = parse_as_of(as_of)
        try:
            spec = parse_document(load_document_file(model))
        except DocumentError as exc:
            raise CommandError(f"{model}: {exc}") from None
        lead_rows = {}
        by_lead: dict[str, list[EventData]] = {}
        rejected = 0
        try:
            for path in (leads, events):
                check_readable(path)
            for line, obj in read_rows(leads, "attributes"):
                try:
                    if isinstance(obj, RowError):
                        raise obj
                    row = parse_lead(obj)
                except RowError as exc:
                    rejected += 1
                    self.stderr.write(f"{leads} line {line}: rejected: {exc}")
                    continue
                lead_rows[row.external_id] = LeadData(
                    row.external_id, row.created_at, {**row.fields, "owner": row.owner}, row.attributes
                )
            for line, obj in read_rows(events, "properties"):
                try:
                    if isinstance(obj, RowError):
                        raise obj
                    row = parse_event(obj)
                    if row.lead not in lead_rows:
                        raise RowError(f"lead: unknown lead id {row.lead!r}")
                except RowError as exc:
                    rejected += 1
                    self.stderr.write(f"{events} line {line}: rejected: {exc}")
                    continue
                by_lead.setdefault(row.lead, []).append(
                    EventData(line, row.external_id, row.kind, row.occurred_at, row.properties)
                )
        except RowError as exc:
            raise CommandError(str(exc)) from None
        fh = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")
        try:
            for external_id in sorted(lead_rows):
                result = score_lead(spec, lead_rows[external_id], by_lead.get(external_id, []), as_of)
                line = result.export_line(lead=external_id, model=spec.slug, as_of=iso_z(as_of))
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        finally:
            if fh is not sys.stdout:
                fh.close()
        if rejected:
            self.stderr.write(f"{rejected} rows rejected")
