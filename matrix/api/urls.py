from django.urls import path
from rest_framework.routers import SimpleRouter

from matrix.api import views

app_name = "matrix-api"

router = SimpleRouter()
router.register("models", views.ScoringModelViewSet, basename="model")
router.register("jobs", views.JobViewSet, basename="job")

versions = views.VersionViewSet.as_view({"get": "list"})
version = views.VersionViewSet.as_view({"get": "retrieve", "put": "update"})
publish = views.VersionViewSet.as_view({"post": "publish"})

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
    path("models/<slug:slug>/versions/<int:number>/publish/", publish, name="version-publish"),
    path("models/<slug:slug>/rescore/", views.RescoreView.as_view(), name="rescore"),
    *router.urls,
]
