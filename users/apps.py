from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users and credits"

    def ready(self) -> None:
        from users import (  # noqa: F401
            mcp_resources,  # subscribes to the users' events (MCP notifications), in every process
            schema,  # registers the OpenAPI auth extension
        )
