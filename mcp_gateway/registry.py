"""Registries of tools, resources, resource templates and prompts.

Apps declare primitives in ``<app>/mcp_tools.py``, ``mcp_resources.py`` and ``mcp_prompts.py`` with
the decorators below; the decorators only attach a spec to the function. ``Registry.discover()``
(called from ``McpGatewayConfig.ready``) collects them, so there is no global server built at
import time, and duplicate names fail at start-up.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from pydantic import BaseModel

from mcp_gateway import tool_models

DISCOVERED_MODULES = ("mcp_tools", "mcp_resources", "mcp_prompts")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
TASK_SUPPORT = ("forbidden", "optional", "required")

Handler = Callable[..., Any]
Completer = Callable[..., Any]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    output_schema: dict[str, Any] | None = None
    title: str | None = None
    annotations: dict[str, Any] | None = None
    scopes: frozenset[str] = frozenset()
    rate_class: str = "read"
    validator: Any = None
    task_support: str = "forbidden"  # "optional" / "required": runs as a task (``task_work``) when asked
    task_work: Any = None  # a ``mcp_gateway.tasks.TaskWork``
    input_model: type[BaseModel] | None = None
    output_model: type[BaseModel] | None = None

    def definition(self) -> dict[str, Any]:
        tool: dict[str, Any] = {"name": self.name, "description": self.description, "inputSchema": self.input_schema}
        if self.title:
            tool["title"] = self.title
        if self.output_schema:
            tool["outputSchema"] = self.output_schema
        if self.annotations:
            tool["annotations"] = self.annotations
        if self.task_support != "forbidden":
            tool["execution"] = {"taskSupport": self.task_support}
        return tool


@dataclass(frozen=True)
class ResourceSpec:
    uri: str
    name: str
    description: str
    reader: Handler
    mime_type: str | None = None
    title: str | None = None
    size: int | None = None
    scopes: frozenset[str] = frozenset()

    def definition(self) -> dict[str, Any]:
        resource: dict[str, Any] = {"uri": self.uri, "name": self.name, "description": self.description}
        if self.title:
            resource["title"] = self.title
        if self.mime_type:
            resource["mimeType"] = self.mime_type
        if self.size is not None:
            resource["size"] = self.size
        return resource


@dataclass(frozen=True)
class TemplateSpec:
    uri_template: str
    name: str
    description: str
    reader: Handler
    mime_type: str | None = None
    title: str | None = None
    scopes: frozenset[str] = frozenset()
    completers: dict[str, Completer] = field(default_factory=dict)
    pattern: re.Pattern[str] | None = None
    query_params: tuple[str, ...] = ()

    def definition(self) -> dict[str, Any]:
        template: dict[str, Any] = {
            "uriTemplate": self.uri_template,
            "name": self.name,
            "description": self.description,
        }
        if self.title:
            template["title"] = self.title
        if self.mime_type:
            template["mimeType"] = self.mime_type
        return template

    def match(self, uri: str) -> dict[str, str] | None:
        from urllib.parse import unquote

        if self.pattern is None:
            return None
        base, _, query = uri.partition("?")
        found = self.pattern.fullmatch(base)
        if found is None:
            return None
        values = dict(found.groupdict())
        if query:
            if not self.query_params:
                return None
            # RFC 6570 form-style expansion percent-encodes "+"; a literal "+" (E.164 numbers, UTC offsets)
            # is kept as "+", never read as a space.
            pairs = (part.partition("=") for part in query.split("&") if part)
            values.update({unquote(k): unquote(v) for k, _, v in pairs if unquote(k) in self.query_params})
        return values


@dataclass(frozen=True)
class PromptArgument:
    name: str
    description: str
    required: bool = False
    completer: Completer | None = None


@dataclass(frozen=True)
class PromptSpec:
    name: str
    description: str
    handler: Handler
    arguments: tuple[PromptArgument, ...] = ()
    title: str | None = None
    scopes: frozenset[str] = frozenset()

    def definition(self) -> dict[str, Any]:
        prompt: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.title:
            prompt["title"] = self.title
        if self.arguments:
            prompt["arguments"] = [
                {"name": a.name, "description": a.description, "required": a.required} for a in self.arguments
            ]
        return prompt


@dataclass(frozen=True)
class ListerSpec:
    """Lists resources that exist per caller (e.g. their recent calls): ``(ctx) -> [resource dicts]``."""

    name: str
    description: str
    handler: Handler
    scopes: frozenset[str] = frozenset()


def mcp_resource_lister(*, name: str, description: str, scopes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
    def decorate(fn: Handler) -> Handler:
        fn.__mcp_lister__ = ListerSpec(name=name, description=description, handler=fn,  # type: ignore[attr-defined]
                                       scopes=frozenset(scopes))
        return fn

    return decorate


# --- decorators --------------------------------------------------------------------------------


def mcp_tool(
    *,
    name: str,
    description: str,
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
    input_model: type[BaseModel] | None = None,
    output_model: type[BaseModel] | None = None,
    title: str | None = None,
    annotations: dict[str, Any] | None = None,
    scopes: Iterable[str] = (),
    rate_class: str = "read",
    task_support: str = "forbidden",
    task_work: Any = None,
) -> Callable[[Handler], Handler]:
    """Declare a tool. The handler is ``(ctx, arguments) -> result`` (sync or async); see dispatcher.

    With ``input_model`` (a pydantic model) the handler gets a validated instance instead of the arguments
    dict, and the inputSchema is generated from the model; with ``output_model`` it returns an instance
    of it, sent as structuredContent, and the outputSchema is generated (see ``tool_models``).
    ``task_support`` ``"optional"`` or ``"required"`` with a ``task_work`` (``mcp_gateway.tasks.TaskWork``)
    lets the tool run as an MCP task; its hooks get the same validated input and return the same output."""
    if (input_model and input_schema) or (output_model and output_schema):
        raise ImproperlyConfigured(f"MCP tool {name!r}: give a schema or a model, not both")
    if task_support not in TASK_SUPPORT or (task_support != "forbidden") != (task_work is not None):
        raise ImproperlyConfigured(f"MCP tool {name!r}: task_support {task_support!r} needs a task_work (and only it)")
    schema = (tool_models.input_schema(input_model) if input_model else input_schema) or {
        "type": "object", "properties": {}}
    if output_model is not None:
        output_schema = tool_models.output_schema(output_model)

    def decorate(fn: Handler) -> Handler:
        typed = input_model is not None or output_model is not None
        fn.__mcp_tool__ = ToolSpec(  # type: ignore[attr-defined]
            name=name,
            description=description,
            input_schema=schema,
            handler=tool_models.typed_handler(fn, input_model, output_model) if typed else fn,
            output_schema=output_schema,
            title=title,
            annotations=annotations,
            scopes=frozenset(scopes),
            rate_class=rate_class,
            validator=tool_models.ArgumentsValidator(schema),
            task_support=task_support,
            task_work=task_work,
            input_model=input_model,
            output_model=output_model,
        )
        return fn

    return decorate


def tool_spec(fn: Handler) -> ToolSpec:
    """The spec a function was declared with by ``@mcp_tool``."""
    spec = getattr(fn, "__mcp_tool__", None)
    if not isinstance(spec, ToolSpec):
        raise ImproperlyConfigured(f"{fn!r} is not declared with @mcp_tool")
    return spec


def mcp_resource(
    *,
    uri: str,
    name: str,
    description: str,
    mime_type: str | None = None,
    title: str | None = None,
    size: int | None = None,
    scopes: Iterable[str] = (),
) -> Callable[[Handler], Handler]:
    def decorate(fn: Handler) -> Handler:
        fn.__mcp_resource__ = ResourceSpec(  # type: ignore[attr-defined]
            uri=uri,
            name=name,
            description=description,
            reader=fn,
            mime_type=mime_type,
            title=title,
            size=size,
            scopes=frozenset(scopes),
        )
        return fn

    return decorate


_VARIABLE = re.compile(r"\{([^}]+)\}")


def _compile_template(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """RFC 6570 level 1 path variables ``{x}`` plus one trailing form-style query ``{?a,b}``."""
    query_params: tuple[str, ...] = ()
    pattern, position = "", 0
    for found in _VARIABLE.finditer(template):
        pattern += re.escape(template[position : found.start()])
        expression = found.group(1)
        if expression.startswith("?"):
            query_params = tuple(part.strip() for part in expression[1:].split(","))
        else:
            pattern += f"(?P<{expression}>[^/?#]+)"
        position = found.end()
    pattern += re.escape(template[position:])
    return re.compile(pattern), query_params


def mcp_resource_template(
    *,
    uri_template: str,
    name: str,
    description: str,
    mime_type: str | None = None,
    title: str | None = None,
    scopes: Iterable[str] = (),
    completers: dict[str, Completer] | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a template. The reader is ``(ctx, uri, **variables) -> contents``."""
    pattern, query_params = _compile_template(uri_template)

    def decorate(fn: Handler) -> Handler:
        fn.__mcp_template__ = TemplateSpec(  # type: ignore[attr-defined]
            uri_template=uri_template,
            name=name,
            description=description,
            reader=fn,
            mime_type=mime_type,
            title=title,
            scopes=frozenset(scopes),
            completers=dict(completers or {}),
            pattern=pattern,
            query_params=query_params,
        )
        return fn

    return decorate


def mcp_prompt(
    *,
    name: str,
    description: str,
    arguments: Iterable[PromptArgument] = (),
    title: str | None = None,
    scopes: Iterable[str] = (),
) -> Callable[[Handler], Handler]:
    """Declare a prompt. The handler is ``(ctx, arguments) -> list of messages`` (or a dict result)."""

    def decorate(fn: Handler) -> Handler:
        fn.__mcp_prompt__ = PromptSpec(  # type: ignore[attr-defined]
            name=name,
            description=description,
            handler=fn,
            arguments=tuple(arguments),
            title=title,
            scopes=frozenset(scopes),
        )
        return fn

    return decorate


# --- the registry --------------------------------------------------------------------------------


@dataclass
class Registry:
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    resources: dict[str, ResourceSpec] = field(default_factory=dict)
    templates: dict[str, TemplateSpec] = field(default_factory=dict)
    prompts: dict[str, PromptSpec] = field(default_factory=dict)
    listers: dict[str, ListerSpec] = field(default_factory=dict)

    def add_module(self, module: ModuleType) -> None:
        for _, member in inspect.getmembers(module):
            for attribute, table, key in (
                ("__mcp_tool__", self.tools, "name"),
                ("__mcp_resource__", self.resources, "uri"),
                ("__mcp_template__", self.templates, "uri_template"),
                ("__mcp_prompt__", self.prompts, "name"),
                ("__mcp_lister__", self.listers, "name"),
            ):
                spec = getattr(member, attribute, None)
                if spec is None:
                    continue
                name = getattr(spec, key)
                if name in table and table[name] is not spec:
                    raise ImproperlyConfigured(
                        f"Duplicate MCP {attribute.strip('_')[4:]} {name!r} in {module.__name__}"
                    )
                if attribute == "__mcp_tool__" and not TOOL_NAME.match(name):
                    raise ImproperlyConfigured(f"Invalid MCP tool name {name!r}")
                if not getattr(spec, "description", ""):
                    raise ImproperlyConfigured(f"MCP {name!r} needs a description")
                table[name] = spec

    @classmethod
    def discover(cls, extra_modules: Iterable[str] = (), *, include_apps: bool = True) -> Registry:
        registry = cls()
        for config in apps.get_app_configs() if include_apps else ():
            for module_name in DISCOVERED_MODULES:
                full = f"{config.name}.{module_name}"
                try:
                    module = importlib.import_module(full)
                except ModuleNotFoundError as exc:
                    if exc.name == full:
                        continue
                    raise
                registry.add_module(module)
        for full in extra_modules:
            registry.add_module(importlib.import_module(full))
        return registry

    def find_template(self, uri: str) -> tuple[TemplateSpec, dict[str, str]] | None:
        for spec in sorted(self.templates.values(), key=lambda s: s.uri_template):
            values = spec.match(uri)
            if values is not None:
                return spec, values
        return None
