from django.urls import path

from mcp_gateway import views

urlpatterns = [
    path("api/v1/mcp", views.McpView.as_view(), name="mcp"),
    path(".well-known/oauth-protected-resource", views.protected_resource_metadata, name="mcp_resource_metadata"),
    path(
        ".well-known/oauth-protected-resource/api/v1/mcp",
        views.protected_resource_metadata,
        name="mcp_resource_metadata_suffixed",
    ),
]
