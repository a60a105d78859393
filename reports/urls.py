"""The manager reports (docs/reports.md), mounted at /reports/."""

from django.urls import path

from reports import views as report_views

app_name = "reports"

urlpatterns = [
    path("", report_views.index, name="index"),
    path("conversion/", report_views.conversion, name="conversion"),
    path("breakdown/", report_views.breakdown, name="breakdown"),
    path("rejections/", report_views.rejections, name="rejections"),
    path("calibration/", report_views.calibration, name="calibration"),
    path("calibration/draft/", report_views.calibration_draft, name="calibration-draft"),
    path("distribution/", report_views.distribution, name="distribution"),
]
