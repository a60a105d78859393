from django.urls import path

from . import views

app_name = "matrix"

urlpatterns = [
    path("", views.model_list, name="list"),
    path("<slug:slug>/", views.model_detail, name="detail"),
    path("<slug:slug>/history/", views.model_history, name="history"),
    path("<slug:slug>/versions/<int:number>/approve/", views.version_approve, name="approve"),
    path("<slug:slug>/versions/<int:number>/publish/", views.version_publish, name="publish"),
    path("<slug:slug>/versions/<int:number>/restore/", views.version_restore, name="restore"),
]
