from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.discovery.api import discovery_api
from apps.runs.api import api
from apps.runs.views import healthz

urlpatterns = [
    path("", include("apps.runs.urls")),
    path("inbox/", include("apps.escalations.urls_inbox")),
    path("escalations/", include("apps.escalations.urls")),
    path("demo/erp/", include("apps.runs.demo_erp.urls")),
    path("discovery/", include("apps.discovery.urls")),
    # Before the intake API, whose catch-all answers every other path under /api/v1/.
    path("api/v1/", discovery_api.urls),
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
