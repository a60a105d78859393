"""The manager reports (docs/reports.md), mounted at /reports/."""

from django.urls import path

from reports import views as report_views

app_name = "reports"

urlpatterns = [
    path("", report_views.index, name="index"),
    *(path(f"{name}/", view, name=name) for name, (_, view) in report_views.PAGES.items()),
    path("calibration/draft/", report_views.calibration_draft, name="calibration-draft"),
]
