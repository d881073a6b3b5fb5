from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls"

    def ready(self) -> None:
        # They subscribe to the calls' events (calls.events), in every process that changes calls
        # (mcp_tools: makePhoneCall's MCP tasks follow their calls; details_cache: versions of what is kept).
        from calls import details_cache, mcp_resources, mcp_tools, tasks  # noqa: F401
