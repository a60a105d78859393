"""The import pages, mounted at /leads/import/."""

from django.urls import path

from imports.views import import_mapping, import_progress, import_start

app_name = "imports"
urlpatterns = [
    path("", import_start, name="start"),
    path("<int:pk>/", import_mapping, name="mapping"),
    path("<int:pk>/progress/", import_progress, name="progress"),
]
