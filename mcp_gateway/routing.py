from django.urls import path

from mcp_gateway.consumers import McpConsumer

websocket_urlpatterns = [path("mcp", McpConsumer.as_asgi())]
