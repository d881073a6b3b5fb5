"""The one application error base. Interfaces (DRF, MCP) translate it; nothing else does."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A failure a client can act on. ``code`` is the machine-readable contract; tests assert on it.

    Subclasses set ``code``, ``http_status`` and a ``message_template`` formatted with ``data``.
    """

    code: ClassVar[str] = "domain_error"
    http_status: ClassVar[int] = 400
    message_template: ClassVar[str] = "The request could not be completed."

    def __init__(self, message: str | None = None, **data: Any) -> None:
        self.data = data
        self.message = message or self.message_template.format(**data)
        super().__init__(self.message)

    @property
    def is_client_mistake(self) -> bool:
        """A request the client must fix (it failed validation): it should not spend a rate budget."""
        return self.http_status == 400


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    message_template = "{resource} not found."


class InvalidInput(DomainError):
    code = "invalid_input"
    http_status = 400
    message_template = "{reason}"
