"""django-piston's `rc` status codes, with correct HTTP statuses.

django-piston answered `rc.FORBIDDEN` with 401 and `rc.THROTTLED` with 503; here they
are 403 and 429, and the titles are the ones the Rust SDK uses, so that a client cannot
tell which language a plugin is written in. Use a code as an answer (`return
rc.DELETED`), as an error (`raise rc.NOT_FOUND`, `raise rc.NOT_FOUND.detail("...")`), or
with data (`return rc.CREATED.data(post)`).
"""

from __future__ import annotations

from typing import Any

from .errors import Problem
from .response import Response

__all__ = [
    "Code",
    "ALL_OK",
    "CREATED",
    "DELETED",
    "BAD_REQUEST",
    "FORBIDDEN",
    "NOT_FOUND",
    "DUPLICATE_ENTRY",
    "NOT_HERE",
    "THROTTLED",
    "INTERNAL_ERROR",
    "NOT_IMPLEMENTED",
]


class Code(Exception):
    """A status code with its standard title.

    A `Code` is an exception so that `raise rc.NOT_FOUND` works; raising a success code
    is a handler bug and answers 500. Returned, an error code answers with a problem
    document carrying its title, and a success code with no body.
    """

    def __init__(self, status: int, title: str) -> None:
        super().__init__(status, title)
        self.status = status
        self.title = title

    def detail(self, detail: str) -> Problem:
        """An error answer with this status and a detail saying what went wrong this
        time: `raise rc.NOT_FOUND.detail(f"there is no post `{slug}`")`."""
        return Problem(self.status, self.title, detail)

    def problem(self) -> Problem:
        """An error answer with this status and no detail, to add violations to."""
        return Problem(self.status, self.title)

    def data(self, value: Any) -> Response:
        """A response with this status carrying `value` as its data."""
        return Response.data(value, self.status)

    def with_header(self, name: str, value: str) -> Response:
        """A response with this status, no body, and the header `name`."""
        return Response.empty(self.status).with_header(name, value)

    def is_success(self) -> bool:
        """Whether this is a success (2xx) code."""
        return 200 <= self.status < 300

    def __str__(self) -> str:
        return f"{self.status} {self.title}"

    def __repr__(self) -> str:
        return f"Code({self.status!r}, {self.title!r})"


#: 200: the request succeeded.
ALL_OK = Code(200, "OK")
#: 201: something was created.
CREATED = Code(201, "Created")
#: 204: something was deleted; no body.
DELETED = Code(204, "Deleted")
#: 400: the request is malformed or fails a check.
BAD_REQUEST = Code(400, "Bad Request")
#: 403: the caller is known but may not do this.
FORBIDDEN = Code(403, "Forbidden")
#: 404: there is no such thing.
NOT_FOUND = Code(404, "Not Found")
#: 409: the thing to create already exists.
DUPLICATE_ENTRY = Code(409, "Conflict/Duplicate")
#: 410: the thing is gone.
NOT_HERE = Code(410, "Gone")
#: 429: the caller made too many requests.
THROTTLED = Code(429, "Throttled")
#: 500: the handler failed.
INTERNAL_ERROR = Code(500, "Internal Server Error")
#: 501: the resource does not implement this.
NOT_IMPLEMENTED = Code(501, "Not Implemented")
