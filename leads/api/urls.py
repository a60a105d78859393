from django.urls import path
from rest_framework.routers import SimpleRouter

from leads.api import views

app_name = "leads-api"

router = SimpleRouter()
router.register("leads", views.LeadViewSet, basename="lead")

urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="events"),
    *router.urls,
]
