from django.apps import AppConfig


class LeadscoringConfig(AppConfig):
    name = "leadscoring"
    verbose_name = "Lead scoring"

    def ready(self):
        from . import db  # noqa: F401  (registers SQLite functions on connect)
