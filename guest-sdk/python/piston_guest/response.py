"""What a handler answers with.

Most handlers never build a `Response`: returning plain data (a dict, a list, a string,
a number, a dataclass) answers 200 with it, and the `rc` codes cover the other statuses
(`rc.CREATED.data(post)`, `rc.DELETED`). `Response` is for the rest: raw bytes, streams,
extra headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

from . import _json

__all__ = ["Response", "stream"]

# What a body is, before it crosses the WIT boundary: nothing, JSON text, raw bytes with
# their content type, or an iterable of items to stream.
_Body = Union[None, str, tuple[str, bytes], Iterable[Any]]


class Response:
    """A status, extra headers, and a body the host emits in the client's format.

    Build one with a class method, then chain `with_status` and `with_header`::

        Response.data(post).with_header("location", f"/posts/{slug}")
    """

    __slots__ = ("status", "headers", "_kind", "_body")

    def __init__(self, status: int, kind: str, body: _Body) -> None:
        self.status = status
        self.headers: list[tuple[str, str]] = []
        self._kind = kind
        self._body = body

    @classmethod
    def data(cls, value: Any, status: int = 200) -> Response:
        """`value` as the data (200 by default). The host filters it by the resource's
        fields and emits it as JSON, YAML, XML... whatever the client asked for.

        Serialized at once, so that data which is not JSON fails in the handler that
        returned it, with that handler in the traceback.
        """
        return cls(status, "data", _json.dumps(value))

    @classmethod
    def raw(cls, content_type: str, content: bytes) -> Response:
        """200 with bytes the host passes through untouched, under `content_type`."""
        return cls(200, "raw", (content_type, bytes(content)))

    @classmethod
    def stream(cls, items: Iterable[Any]) -> Response:
        """200 streaming `items` to the client as they are produced, so that a large
        listing never sits whole in memory. The host pulls them in batches, filters
        each one and emits it in the client's format.

        `items` is consumed lazily, after the handler has returned. An exception while
        producing an item ends the stream: the client's response is cut short (it has
        already begun) and the host logs the exception and its traceback.
        """
        return cls(200, "stream", items)

    @classmethod
    def empty(cls, status: int) -> Response:
        """A response with this status and no body (e.g. 204)."""
        return cls(status, "none", None)

    def with_status(self, status: int) -> Response:
        """Replaces the status."""
        self.status = status
        return self

    def with_header(self, name: str, value: str) -> Response:
        """Adds a response header, e.g. `location`. The host sets `content-type` and the
        framing headers itself."""
        self.headers.append((name, value))
        return self

    def __repr__(self) -> str:
        return f"Response(status={self.status!r}, kind={self._kind!r})"


def stream(items: Iterable[Any]) -> Response:
    """`Response.stream(items)`: return `stream(generator)` from `read` to stream a
    listing."""
    return Response.stream(items)
