from django.core.management.base import BaseCommand, CommandError

from engine.document import DocumentError, load_document_file
from matrix.services import PublishError, model_import
from scoring.jobs import model_version_publish


class Command(BaseCommand):
    help = "Import a scoring model document (JSON or YAML) as a new draft version; --publish makes it live."

    def add_arguments(self, parser):
        parser.add_argument("path", help="model document, .json or .yaml")
        parser.add_argument("--publish", action="store_true", help="publish the imported draft at once")
        parser.add_argument("--note", default="", help="a note stored with the version")

    def handle(self, path, publish, note, **options):
        try:
            version = model_import(data=load_document_file(path), note=note)
        except DocumentError as exc:
            raise CommandError(f"{path}: {exc}") from None
        self.stdout.write(f"imported {version.scoring_model.slug} as draft version {version.number}")
        if publish:
            try:
                model_version_publish(version=version)
            except PublishError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"published {version.scoring_model.slug} version {version.number}")
