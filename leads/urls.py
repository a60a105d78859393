from django.urls import path

from leads import views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="list"),
    path("grid/", views.lead_grid, name="grid"),
    path("filters/", views.saved_filter_create, name="filter-save"),
    path("filters/<int:pk>/delete/", views.saved_filter_remove, name="filter-delete"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/accept/", views.lead_action, {"action": "accept"}, name="accept"),
    path("<int:pk>/reject/", views.lead_action, {"action": "reject"}, name="reject"),
    path("<int:pk>/recycle/", views.lead_action, {"action": "recycle"}, name="recycle"),
]
