from django.urls import path
from rest_framework.routers import SimpleRouter

from scoring.api import views

app_name = "leads-api"

router = SimpleRouter()
router.register("leads", views.LeadViewSet, basename="lead")

urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="events"),
    *router.urls,
]

# The model endpoints that start rescoring; the root URLconf adds them to matrix.api.urls'
# "matrix-api" namespace, beside the models and versions they act on.
model_router = SimpleRouter()
model_router.register("jobs", views.JobViewSet, basename="job")
model_urlpatterns = [
    path(
        "models/<slug:slug>/versions/<int:number>/publish/", views.VersionPublishView.as_view(), name="version-publish"
    ),
    path("models/<slug:slug>/rescore/", views.RescoreView.as_view(), name="rescore"),
    *model_router.urls,
]
