"""The request a verb receives.

By the time a request reaches the plugin the host has routed, authenticated, throttled,
decoded and validated it: the body is one JSON document whatever format the client sent
(JSON, YAML, XML, a form, pickle, MessagePack), and it already satisfies the method's
schema, if the resource declares one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional, TypeVar

from wit_world.imports import piston_handler_types as wit

from . import _json, rc
from .spec import Method

__all__ = ["Principal", "Request"]

T = TypeVar("T")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: who it is, how it proved it, and what it may do."""

    #: The caller's stable identifier (a username, or a token's subject).
    id: str
    #: The scheme that authenticated it: `basic`, `digest`, `oauth1`, `bearer`, `jwt`,
    #: or a custom authenticator's name.
    scheme: str
    #: The scopes granted to the credential (empty when the scheme has none).
    scopes: tuple[str, ...] = ()
    #: Further claims (a JWT's payload, a user's `first_name`); empty when there are none.
    claims: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wit(cls, principal: wit.Principal) -> Principal:
        """The principal the host passed."""
        claims: Any = {}
        if principal.claims is not None:
            try:
                claims = _json.loads(principal.claims)
            except ValueError:
                claims = {}
        if not isinstance(claims, dict):
            claims = {}
        return cls(principal.id, principal.scheme, tuple(principal.scopes), claims)


class Request:
    """One request for one of the plugin's resources."""

    def __init__(self, inner: wit.Request) -> None:
        self._inner = inner
        #: The name of the resource the request is for.
        self.resource: str = inner.resource_name
        #: The method being performed.
        self.method: Method = Method.from_wit(inner.method)
        #: The request path, without the query string or format suffix.
        self.path: str = inner.path
        #: The values captured by the route (`{post_slug}`), percent-decoded.
        self.params: dict[str, str] = dict(inner.params)
        #: Every query parameter, as `(name, value)` pairs in order, repeats kept. The
        #: host keeps `format`, `indent`, `fields` and `exclude` to itself.
        self.query_pairs: list[tuple[str, str]] = list(inner.query)
        #: The headers the resource's `request_headers` asked for, names lower-case.
        self.headers: list[tuple[str, str]] = list(inner.headers)
        #: The decoded body as JSON text, or None when the request has none.
        self.raw_data: Optional[str] = inner.data

    def param(self, name: str) -> Optional[str]:
        """A value captured by the route, or None when the matched route has no such
        parameter."""
        return self.params.get(name)

    def param_as(self, name: str, convert: Callable[[str], T]) -> T:
        """A route value converted by `convert` (`request.param_as("id", int)`). A value
        that does not convert answers 404: the path names nothing this resource has."""
        raw = self.params.get(name)
        if raw is None:
            raise LookupError(f"the route has no parameter `{name}`")
        try:
            return convert(raw)
        except (TypeError, ValueError):
            raise rc.NOT_FOUND.detail(f"`{raw}` is not a valid {name}") from None

    def query(self, name: str) -> Optional[str]:
        """The first value of a query parameter (`?page=2`), decoded, or None."""
        for key, value in self.query_pairs:
            if key == name:
                return value
        return None

    def query_all(self, name: str) -> list[str]:
        """Every value of a repeated query parameter, in order."""
        return [value for key, value in self.query_pairs if key == name]

    def query_as(self, name: str, convert: Callable[[str], T]) -> Optional[T]:
        """A query parameter converted by `convert`: None when absent, 400 when it does
        not convert."""
        raw = self.query(name)
        if raw is None:
            return None
        try:
            return convert(raw)
        except (TypeError, ValueError):
            raise rc.BAD_REQUEST.detail(
                f"query parameter `{name}` has an invalid value `{raw}`"
            ) from None

    def header(self, name: str) -> Optional[str]:
        """A request header by name. Only the headers the resource's `request_headers`
        names are passed."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @cached_property
    def principal(self) -> Optional[Principal]:
        """The authenticated caller, or None for an anonymous request."""
        inner = self._inner.principal
        return None if inner is None else Principal.from_wit(inner)

    @cached_property
    def data(self) -> Any:
        """The body as Python data (django-piston's `request.data`), or None when the
        request has none. Parsed on first use."""
        return None if self.raw_data is None else _json.loads(self.raw_data)

    def require_data(self) -> Any:
        """`data`, or a 400 saying the request needs a body."""
        if self.raw_data is None:
            raise rc.BAD_REQUEST.detail("this request needs a body")
        return self.data

    def __repr__(self) -> str:
        return f"Request({self.method.value} {self.path!r} -> {self.resource!r})"
