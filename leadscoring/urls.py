from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

import matrix.api.urls
import matrix.urls
import scoring.api.urls
import scoring.urls
from leadscoring import views
from leadscoring.api import ApiNotFoundView, DocsView, SchemaView
from scoring.views import home, pipeline


@login_not_required
def favicon(request):
    """/favicon.ico, which browsers and tools ask for whatever a page links: the site's SVG icon."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


# LoginRequiredMiddleware guards every view; LoginView (and the admin's own login) carry
# login_not_required since Django 5.1, so nothing here needs the decorator.
urlpatterns = [
    path("", home.home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The API (docs/api.md): one package per app, token or session auth, schema and docs beside it.
    # /api/ itself leads to the current version (and stays out of the browsable API's breadcrumbs).
    path("api/", RedirectView.as_view(pattern_name="api-root"), name="api"),
    path("api/v1/", views.ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include("scoring.api.urls")),
    path("api/v1/", include((matrix.api.urls.urlpatterns + scoring.api.urls.model_urlpatterns, "matrix-api"))),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Last of the API: any other path under api/ is a JSON 404 like the API's own, not an HTML page.
    # Only paths ending in a slash: one without is first sent on to its slashed form (APPEND_SLASH),
    # and "/api/v1" stays no step of the browsable API's breadcrumbs.
    re_path(r"^api/[\s\S]*/$", ApiNotFoundView.as_view()),
    # Before any "leads/" include, so /leads/import/ is this and not a lead called "import".
    path("leads/import/", include("imports.urls")),
    # The rep workspace (docs/rep-workspace.md): lists, grid, lead pages, lifecycle actions.
    path("leads/", include("scoring.urls")),
    path("reports/", include("reports.urls")),
    path("matrix/", include((scoring.urls.model_urlpatterns + matrix.urls.urlpatterns, "matrix"))),
    path("jobs/", pipeline.job_list, name="jobs"),
    path("jobs/<int:pk>/", pipeline.job_detail, name="job-detail"),
    path("notifications/", pipeline.notification_list, name="notifications"),
    path("notifications/read/", pipeline.notifications_read, name="notifications-read"),
    path("notifications/job/<int:job_id>/<str:kind>/", pipeline.notification_digest, name="notification-digest"),
]

# The site's own error pages (templates/403.html, 404.html, 500.html); with DEBUG on,
# leadscoring.middleware.FriendlyErrorsMiddleware shows them too.
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error
