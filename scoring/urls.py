from django.urls import path

from scoring.views import impact, models
from scoring.views import leads as views

app_name = "leads"

urlpatterns = [
    # A lead's page and what a rep does there.
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/accept/", views.lead_action, {"action": "accept"}, name="accept"),
    path("<int:pk>/reject/", views.lead_action, {"action": "reject"}, name="reject"),
    path("<int:pk>/recycle/", views.lead_action, {"action": "recycle"}, name="recycle"),
    # The lists, and the filters a rep keeps for them.
    path("", views.lead_list, name="list"),
    path("grid/", views.lead_grid, name="grid"),
    path("filters/", views.saved_filter_create, name="filter-save"),
    path("filters/<int:pk>/delete/", views.saved_filter_remove, name="filter-delete"),
]

# The model pages that show scores, in the "matrix" namespace beside matrix.urls (root URLconf).
model_urlpatterns = [
    path("", models.model_list, name="list"),
    path("<slug:slug>/", models.model_detail, name="detail"),
    path("<slug:slug>/versions/<int:number>/publish/", models.version_publish, name="publish"),
    path("<slug:slug>/impact/", impact.impact, name="impact"),
]
