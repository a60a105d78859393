from django.apps import AppConfig


class LeadscoringConfig(AppConfig):
    name = "leadscoring"
    verbose_name = "Lead scoring"

    def ready(self):
        from leadscoring import checks, db  # noqa: F401  (registers the system checks; SQLite functions on connect)
