from django.urls import path

from mcp_gateway import views

urlpatterns = [
    path("api/v1/mcp", views.McpView.as_view(), name="mcp"),
    path("api/v1/mcp/sse", views.LegacySseView.as_view(), name="mcp_sse"),
    path("api/v1/mcp/messages", views.LegacySseView.as_view(), name="mcp_sse_messages"),
    path(".well-known/oauth-protected-resource", views.protected_resource_metadata, name="mcp_resource_metadata"),
    path(
        ".well-known/oauth-protected-resource/api/v1/mcp",
        views.protected_resource_metadata,
        name="mcp_resource_metadata_suffixed",
    ),
]
