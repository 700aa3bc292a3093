"""Errors a handler answers with.

There are two kinds, and the difference matters to the client. A *problem* is an
answer the handler chose (404, 409, a 400 listing what is wrong with the input): raise
`rc.NOT_FOUND.detail("...")` or a `Violations` and the client gets an RFC 9457 document
with that status, title and detail. Any other exception is a *failure*, something that
broke: the client gets a bare 500, and the operator gets the exception and its
traceback in the host log.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Problem", "Violations"]


class Problem(Exception):
    """An error answer: a status, a title shared by every occurrence of this kind of
    problem, what went wrong this time, and field-level violations.

    Made by the `rc` codes (`rc.NOT_FOUND.detail("there is no post `x`")`) rather than
    by hand, so that titles stay the standard ones.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(status, title, detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.violations: list[tuple[str, str]] = list(violations or ())

    def with_detail(self, detail: str) -> Problem:
        """Says what went wrong this time (the problem's `detail`)."""
        self.detail = detail
        return self

    def with_violation(self, pointer: str, message: str) -> Problem:
        """Adds a violation: a JSON Pointer into the request data (`/title`) and what
        is wrong with the value there."""
        self.violations.append((pointer, message))
        return self

    def __str__(self) -> str:
        if self.detail is None:
            return f"{self.status} {self.title}"
        return f"{self.status} {self.title}: {self.detail}"

    def __repr__(self) -> str:
        return (
            f"Problem(status={self.status!r}, title={self.title!r}, "
            f"detail={self.detail!r}, violations={self.violations!r})"
        )


class Violations:
    """Field-level problems collected while checking a request, answered together as
    one 400 so that the client can fix everything at once::

        violations = Violations()
        if not title.strip():
            violations.add("/title", "must not be empty")
        violations.raise_if_any("the post is not valid")
    """

    def __init__(self) -> None:
        self._items: list[tuple[str, str]] = []

    def add(self, pointer: str, message: str) -> None:
        """Records that the value at `pointer` (a JSON Pointer such as `/title`; empty
        for the whole document) is wrong, and why."""
        self._items.append((pointer, message))

    def raise_if_any(self, detail: str) -> None:
        """Does nothing when nothing was recorded; else raises a 400 problem (`Bad
        Request`) with `detail` and every violation, in the order they were added."""
        if self._items:
            # Imported here: rc builds on this module.
            from . import rc

            problem = rc.BAD_REQUEST.detail(detail)
            for pointer, message in self._items:
                problem.with_violation(pointer, message)
            raise problem

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"Violations({self._items!r})"
