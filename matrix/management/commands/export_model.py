import json
import sys

from django.core.management.base import BaseCommand, CommandError

from matrix.models import ScoringModel
from matrix.selectors import version_live


class Command(BaseCommand):
    help = "Write a scoring model version as a JSON document (default: the live version, else the latest)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # The spec's `--version N` replaces Django's own --version (which prints Django's).
        kwargs["conflict_handler"] = "resolve"
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--version", type=int, dest="number", help="version number")
        parser.add_argument("--output", default="-", help="file to write, or - for standard output")

    def handle(self, slug, number, output, **options):
        scoring_model = ScoringModel.objects.filter(slug=slug).first()
        if scoring_model is None:
            raise CommandError(f"no scoring model with slug {slug!r}")
        if number is not None:
            version = scoring_model.versions.filter(number=number).first()
            if version is None:
                raise CommandError(f"{slug} has no version {number}")
        else:
            version = version_live(scoring_model=scoring_model) or scoring_model.versions.order_by("-number").first()
        text = json.dumps(version.document, indent=2, ensure_ascii=False) + "\n"
        if output == "-":
            sys.stdout.write(text)
        else:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"wrote {slug} version {version.number} to {output}")
