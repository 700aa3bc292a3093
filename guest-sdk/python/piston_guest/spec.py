"""Resources: django-piston's handler classes, and the spec the host reads from them.

A `Resource` subclass declares what it serves as class attributes and defines the
verbs it implements. `describe` turns the attributes into the WIT `resource-spec` once,
when the plugin module is imported, so that a mistake (an unknown method, a route given
as a bare string) fails the build with a message naming the class and the attribute,
instead of surfacing later as a plugin the host refuses.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from wit_world.imports import piston_handler_types as wit

__all__ = ["Method", "Resource", "SpecError", "Throttle", "throttle", "VERBS"]


class Method(str, enum.Enum):
    """An HTTP method a resource can implement. `HEAD` and `OPTIONS` are the host's.

    A `str`, so that `request.method == "GET"` holds and spec attributes may name
    methods as plain strings.
    """

    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"

    def __str__(self) -> str:
        return self.value

    def to_wit(self) -> wit.Method:
        """The WIT enum case."""
        return wit.Method[self.value]

    @classmethod
    def from_wit(cls, method: wit.Method) -> Method:
        """The method of a WIT enum case."""
        return cls[method.name]


#: The verb each method calls, in the order `allowed_methods` lists them by default.
VERBS: Mapping[Method, str] = {
    Method.GET: "read",
    Method.POST: "create",
    Method.PUT: "update",
    Method.PATCH: "patch",
    Method.DELETE: "delete",
}

MethodLike = Union[Method, str]


class SpecError(ValueError):
    """A resource or plugin attribute the host would refuse, named precisely."""


@dataclass(frozen=True)
class Throttle:
    """A rate limit: `requests` per `period_seconds` for each caller, counted together
    for `methods` (every allowed method when empty). Make one with `throttle`."""

    methods: tuple[Method, ...]
    requests: int
    period_seconds: int


def throttle(methods: Sequence[MethodLike], requests: int, period_seconds: int) -> Throttle:
    """django-piston's `@throttle(5, 10*60)` for `methods`: `throttle(["PUT"], 5, 600)`."""
    where = "throttle()"
    checked = tuple(_methods(methods, where))
    for label, value in (("requests", requests), ("period_seconds", period_seconds)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**32:
            raise SpecError(f"{where}: {label} must be an integer from 1 to 2^32-1, not {value!r}")
    return Throttle(checked, requests, period_seconds)


class Resource:
    """One REST resource: django-piston's handler class.

    Set the class attributes, define the verbs the resource implements, and list the
    class in `plugin(...)`::

        class Greeting(Resource):
            name = "greeting"
            routes = ["/hello/{name}"]

            def read(self, request, name):
                return {"hello": name}

    The verbs are `read` (GET, and HEAD), `create` (POST), `update` (PUT), `patch`
    (PATCH) and `delete` (DELETE). Each takes the `Request` and the route's parameters
    as keyword arguments, and returns plain data (answered 200), a `Response`, or an
    `rc` code; it raises an `rc` problem or `Violations` to answer with an error. The
    host answers every method the class does not define with 405 and an `Allow` header.

    The generated API documentation takes the resource's description from the class
    docstring (unless `description` is set) and each method's from its verb's
    docstring, in Markdown (a method's first paragraph is the operation's summary).
    `responses` adds what each method answers with.

    One instance of the class is created per plugin instance, on its first request, and
    serves every request that instance gets, so it may cache in memory (with
    `isolation = "request"` it lives for one request).
    """

    #: The name, unique within the plugin: lower-case letters, digits and `-`.
    name: ClassVar[str]
    #: What the resource is, in Markdown, for the generated documentation. Empty takes
    #: the class docstring.
    description: ClassVar[str] = ""
    #: URL path patterns: `/posts`, `/posts/{post_slug}`, `/files/{*path}`.
    routes: ClassVar[Sequence[str]] = ()
    #: The methods allowed; by default those whose verb the class defines. Declare them
    #: to allow fewer.
    allowed_methods: ClassVar[Sequence[MethodLike] | None] = None
    #: Methods served without credentials even when authentication is configured.
    anonymous: ClassVar[Sequence[MethodLike]] = ()
    #: The fields clients may see, as dotted paths; empty shows every field.
    fields: ClassVar[Sequence[str]] = ()
    #: Fields never shown: names, or `re:` and a regular expression.
    exclude: ClassVar[Sequence[str]] = ()
    #: Rate limits, made with `throttle`.
    throttles: ClassVar[Sequence[Throttle]] = ()
    #: A JSON Schema (a dict, or JSON text) per method for the request body.
    schemas: ClassVar[Mapping[MethodLike, Mapping[str, Any] | str]] = {}
    #: A JSON Schema (a dict, or JSON text) per method for the data a successful answer
    #: carries as a JSON client receives it (for a `stream`, the array of its items), for
    #: the generated documentation. Describe what the verb returns: the host narrows it
    #: to `fields` and adds `resource_uri`.
    responses: ClassVar[Mapping[MethodLike, Mapping[str, Any] | str]] = {}
    #: The URI template of one item (`/posts/{slug}`), for each item's `resource_uri`.
    item_uri: ClassVar[str | None] = None
    #: Request headers the verbs read (lower-case names, or `*` for all).
    request_headers: ClassVar[Sequence[str]] = ()


_NAME = re.compile(r"[a-z0-9-]+\Z")
_BODY_METHODS = (Method.POST, Method.PUT, Method.PATCH)


def check_name(name: Any, where: str) -> str:
    """`name` if it is a valid resource or plugin name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(
            f"{where}: must be lower-case letters, digits and '-', not {name!r}"
        )
    return name


def _method(value: Any, where: str) -> Method:
    if isinstance(value, Method):
        return value
    if isinstance(value, str):
        upper = value.upper()
        if upper in Method.__members__:
            return Method[upper]
        if upper in ("HEAD", "OPTIONS"):
            raise SpecError(
                f"{where}: {value!r} is the host's (HEAD is answered from GET, "
                "OPTIONS from the allowed methods)"
            )
    known = ", ".join(Method.__members__)
    raise SpecError(f"{where}: unknown method {value!r} (expected one of {known})")


def _methods(values: Any, where: str) -> list[Method]:
    methods: list[Method] = []
    for value in _sequence(values, where):
        method = _method(value, where)
        if method not in methods:
            methods.append(method)
    return methods


def _sequence(values: Any, where: str) -> Sequence[Any]:
    # A bare string is a sequence too, of characters: `routes = "/posts"` would
    # otherwise declare seven one-character routes.
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, set, frozenset)):
        raise SpecError(f"{where}: must be a list or tuple, not {values!r}")
    return list(values)


def _strings(values: Any, where: str) -> list[str]:
    items = _sequence(values, where)
    for item in items:
        if not isinstance(item, str):
            raise SpecError(f"{where}: every entry must be a string, not {item!r}")
    return items


def implemented_methods(cls: type) -> list[Method]:
    """The methods whose verb `cls` defines, in the standard order."""
    return [method for method, verb in VERBS.items() if callable(getattr(cls, verb, None))]


def spec_of(cls: type) -> wit.ResourceSpec:
    """The WIT spec of a `Resource` subclass, checked."""
    where = cls.__qualname__
    if not (isinstance(cls, type) and issubclass(cls, Resource)):
        raise SpecError(f"{cls!r} is not a subclass of piston_guest.Resource")
    name = check_name(getattr(cls, "name", None), f"{where}.name")

    description = cls.description
    if not isinstance(description, str):
        raise SpecError(f"{where}.description: must be a string, not {description!r}")
    if not description:
        # The class's own docstring: `__doc__` is not inherited, so a shared base's
        # docstring does not describe every subclass.
        description = _docstring(cls)

    routes = _strings(cls.routes, f"{where}.routes")
    if not routes:
        raise SpecError(f"{where}.routes: a resource needs at least one route")
    for route in routes:
        if not route.startswith("/"):
            raise SpecError(f"{where}.routes: {route!r} must start with '/'")

    implemented = implemented_methods(cls)
    if cls.allowed_methods is None:
        allowed = implemented
        if not allowed:
            raise SpecError(
                f"{where}: defines none of read, create, update, patch, delete"
            )
    else:
        allowed = _methods(cls.allowed_methods, f"{where}.allowed_methods")
        if not allowed:
            raise SpecError(f"{where}.allowed_methods: must allow at least one method")

    anonymous = _methods(cls.anonymous, f"{where}.anonymous")
    for method in anonymous:
        if method not in allowed:
            raise SpecError(f"{where}.anonymous: {method} is not an allowed method")

    throttles = []
    for rule in _sequence(cls.throttles, f"{where}.throttles"):
        if not isinstance(rule, Throttle):
            raise SpecError(
                f"{where}.throttles: entries are made with throttle(methods, requests, "
                f"period_seconds), not {rule!r}"
            )
        for method in rule.methods:
            if method not in allowed:
                raise SpecError(f"{where}.throttles: {method} is not an allowed method")
        throttles.append(
            wit.Throttle(
                methods=[method.to_wit() for method in rule.methods],
                requests=rule.requests,
                period_seconds=rule.period_seconds,
            )
        )

    if not isinstance(cls.schemas, Mapping):
        raise SpecError(f"{where}.schemas: must be a dict from method to schema")
    schemas = []
    for key, schema in cls.schemas.items():
        method = _method(key, f"{where}.schemas")
        if method not in _BODY_METHODS:
            raise SpecError(f"{where}.schemas: {method} requests have no body to check")
        if method not in allowed:
            raise SpecError(f"{where}.schemas: {method} is not an allowed method")
        schemas.append(
            wit.BodySchema(
                method=method.to_wit(), schema=_schema_text(schema, f"{where}.schemas[{method}]")
            )
        )

    if not isinstance(cls.responses, Mapping):
        raise SpecError(f"{where}.responses: must be a dict from method to schema")
    responses: dict[Method, str] = {}
    for key, schema in cls.responses.items():
        method = _method(key, f"{where}.responses")
        if method not in allowed:
            raise SpecError(f"{where}.responses: {method} is not an allowed method")
        if method in responses:
            raise SpecError(f"{where}.responses: {method} has two schemas")
        responses[method] = _schema_text(schema, f"{where}.responses[{method}]")

    method_docs = []
    for method in allowed:
        text = _docstring(getattr(cls, VERBS[method], None))
        response = responses.get(method)
        if text or response is not None:
            method_docs.append(
                wit.MethodDoc(method=method.to_wit(), description=text, response_schema=response)
            )

    item_uri = cls.item_uri
    if item_uri is not None and not isinstance(item_uri, str):
        raise SpecError(f"{where}.item_uri: must be a string or None, not {item_uri!r}")

    headers = [header.lower() for header in _strings(cls.request_headers, f"{where}.request_headers")]

    return wit.ResourceSpec(
        name=name,
        description=description,
        method_docs=method_docs,
        routes=routes,
        allowed_methods=[method.to_wit() for method in allowed],
        anonymous_methods=[method.to_wit() for method in anonymous],
        fields=_strings(cls.fields, f"{where}.fields"),
        exclude=_strings(cls.exclude, f"{where}.exclude"),
        throttles=throttles,
        schemas=schemas,
        item_uri=item_uri,
        request_headers=headers,
    )


def _docstring(owner: Any) -> str:
    """`owner`'s own docstring, indentation removed; empty without one."""
    doc = getattr(owner, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _schema_text(schema: Any, where: str) -> str:
    # Compact, keys in the order written: the host compiles the schema from this text.
    if isinstance(schema, str):
        try:
            json.loads(schema)
        except ValueError as error:
            raise SpecError(f"{where}: not JSON: {error}") from None
        return schema
    if not isinstance(schema, Mapping):
        raise SpecError(f"{where}: must be a dict or JSON text, not {schema!r}")
    try:
        return json.dumps(schema, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SpecError(f"{where}: not JSON data: {error}") from None
