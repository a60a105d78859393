from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from leads import views_pipeline

from . import views

# LoginRequiredMiddleware guards every view; LoginView (and the admin's own login) carry
# login_not_required since Django 5.1, so nothing here needs the decorator.
urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("jobs/", views_pipeline.job_list, name="jobs"),
    path("jobs/<int:pk>/", views_pipeline.job_detail, name="job-detail"),
    path("notifications/", views_pipeline.notification_list, name="notifications"),
    path("notifications/read/", views_pipeline.notifications_read, name="notifications-read"),
]
