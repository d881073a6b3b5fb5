"""The one application error base. Interfaces (DRF, MCP) translate it; nothing else does."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A failure a client can act on. ``code`` is the machine-readable contract; tests assert on it.

    Subclasses set ``code``, ``http_status`` and a ``message_template`` formatted with ``data``. When
    the message carries internal detail (a provider's own error text), ``public_template`` is what
    clients are told instead and the ``internal`` data fields never leave the server: interfaces
    answer ``public_message`` and ``public_data`` and log ``message``.
    """

    code: ClassVar[str] = "domain_error"
    http_status: ClassVar[int] = 400
    message_template: ClassVar[str] = "The request could not be completed."
    public_template: ClassVar[str | None] = None
    internal: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, message: str | None = None, **data: Any) -> None:
        self.data = data
        self.message = message or self.message_template.format(**data)
        super().__init__(self.message)

    @property
    def public_data(self) -> dict[str, Any]:
        return {name: value for name, value in self.data.items() if name not in self.internal}

    @property
    def public_message(self) -> str:
        if self.public_template is None:
            return self.message
        return self.public_template.format(**self.public_data)

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
