from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"

    def ready(self):
        from leads.reports import register_sqlite_aggregates

        # The reports' percentile_cont on SQLite (Postgres has its own), on every new connection.
        connection_created.connect(register_sqlite_aggregates, dispatch_uid="leads.reports.sqlite_aggregates")
