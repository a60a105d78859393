from django.urls import path
from rest_framework.routers import SimpleRouter

from matrix.api import views

# The root URLconf adds scoring.api.urls.model_urlpatterns (publish, rescore, jobs) to this namespace.
app_name = "matrix-api"

router = SimpleRouter()
router.register("models", views.ScoringModelViewSet, basename="model")

versions = views.VersionViewSet.as_view({"get": "list"})
version = views.VersionViewSet.as_view({"get": "retrieve", "put": "update"})

urlpatterns = [
    # Before the router: "validate" is not a model slug.
    path("models/validate/", views.ValidateView.as_view(), name="validate"),
    path("models/<slug:slug>/versions/", versions, name="version-list"),
    path("models/<slug:slug>/versions/<int:number>/", version, name="version-detail"),
    path(
        "models/<slug:slug>/versions/<int:number>/approve/",
        views.VersionViewSet.as_view({"post": "approve"}),
        name="version-approve",
    ),
    *router.urls,
]
