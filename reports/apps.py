from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from reports.selectors import register_sqlite_aggregates

        # The reports' percentile_cont on SQLite (Postgres has its own), on every new connection.
        connection_created.connect(register_sqlite_aggregates, dispatch_uid="reports.selectors.sqlite_aggregates")
