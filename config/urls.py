from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from calls.usage_api import UsageApi
from config import health, landing
from config.exceptions import api_not_found

urlpatterns = [
    path("", landing.landing, name="landing"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/credits/usage/", UsageApi.as_view(), name="credits_usage"),
    path("api/v1/", include("users.urls")),
    path("api/v1/", include("calls.urls")),
    path("", include("mcp_gateway.urls")),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),  # last: any other /api/ path answers JSON 404
]

handler400 = "config.exceptions.json_400"
handler403 = "config.exceptions.json_403"
handler404 = "config.exceptions.json_404"
handler500 = "config.exceptions.json_500"
