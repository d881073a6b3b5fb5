from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls"

    def ready(self) -> None:
        # They subscribe to the calls' events (calls.events), in every process that changes calls.
        from calls import mcp_resources, tasks  # noqa: F401
