"""The one trivial tool, declared the django-mcp-server way (an ``MCPToolset`` in ``<app>/mcp.py``)."""

from mcp_server import MCPToolset


class BenchTools(MCPToolset):
    def echo(self, text: str) -> str:
        """Echo the text back."""
        return text
