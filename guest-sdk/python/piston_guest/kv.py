"""The key-value store: the plugin's persistent data.

Each plugin sees only its own data (the host namespaces it by plugin name), in buckets
opened by name. Values are bytes; the `_json` methods store Python data as JSON text,
encoded as the Rust SDK encodes it. A store error raises `StoreError`, which the client
sees as a 500 and the operator as the message and traceback in the host log.

An instance keeps the buckets it opened: opening one again (on the next request the
instance serves) costs nothing, and each operation is one call into the host.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Callable, Optional, TypeVar

from componentize_py_types import Err
from wit_world.imports import atomics, batch
from wit_world.imports import wasi_keyvalue_store as store

from . import _json

__all__ = ["Bucket", "StoreError"]

T = TypeVar("T")


class StoreError(Exception):
    """A key-value operation failed in the host."""


def _call(operation: str, bucket: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except Err as error:
        raise StoreError(
            f"key-value {operation} in bucket `{bucket}`: {_reason(error.value)}"
        ) from None


def _reason(error: Any) -> str:
    if isinstance(error, store.Error_NoSuchStore):
        return "no such store"
    if isinstance(error, store.Error_AccessDenied):
        return "access denied"
    if isinstance(error, store.Error_Other):
        return error.value
    return repr(error)


class Bucket:
    """A named bucket of keys in the plugin's store."""

    _open: dict[str, Bucket] = {}

    def __init__(self, name: str, inner: store.Bucket) -> None:
        self.name = name
        self._inner = inner

    @classmethod
    def open(cls, name: str) -> Bucket:
        """The bucket called `name` (created on first write); `""` is the default one."""
        bucket = cls._open.get(name)
        if bucket is None:
            bucket = cls(name, _call("open", name, lambda: store.open(name)))
            cls._open[name] = bucket
        return bucket

    def get(self, key: str) -> Optional[bytes]:
        """The value stored under `key`, or None."""
        return _call("get", self.name, lambda: self._inner.get(key))

    def get_json(self, key: str) -> Any:
        """The value under `key` parsed from JSON, or None when there is none."""
        raw = self.get(key)
        if raw is None:
            return None
        try:
            return _json.loads(raw)
        except ValueError as error:
            raise StoreError(
                f"bucket `{self.name}` key `{key}` holds data that is not JSON: {error}"
            ) from None

    def set(self, key: str, value: bytes) -> None:
        """Stores `value` under `key`, replacing what was there."""
        _call("set", self.name, lambda: self._inner.set(key, bytes(value)))

    def set_json(self, key: str, value: Any) -> None:
        """Stores `value` as JSON text under `key`."""
        self.set(key, _json.dumps(value).encode())

    def delete(self, key: str) -> None:
        """Removes `key` (nothing happens if it is absent)."""
        _call("delete", self.name, lambda: self._inner.delete(key))

    def exists(self, key: str) -> bool:
        """Whether `key` holds a value."""
        return _call("exists", self.name, lambda: self._inner.exists(key))

    def keys(self) -> list[str]:
        """Every key, in ascending order. For a large bucket prefer `key_pages`, which
        holds one page at a time."""
        return [key for page in self.key_pages() for key in page]

    def key_pages(self) -> Iterator[list[str]]:
        """The keys in ascending order, a page (up to a thousand) at a time, each
        fetched as the iterator is advanced."""
        cursor: Optional[int] = None
        while True:
            page = _call(
                "list keys", self.name, lambda: self._inner.list_keys(cursor)
            )
            yield list(page.keys)
            if page.cursor is None:
                return
            cursor = page.cursor

    def increment(self, key: str, delta: int = 1) -> int:
        """Adds `delta` (0 to 2^64-1) to the number under `key` (0 if absent)
        atomically, and returns the new value."""
        if isinstance(delta, bool) or not isinstance(delta, int) or not 0 <= delta < 2**64:
            raise ValueError(f"increment by {delta!r}: the delta must be 0 to 2^64-1")
        return _call(
            "increment", self.name, lambda: atomics.increment(self._inner, key, delta)
        )

    def get_many(self, keys: Sequence[str]) -> list[Optional[bytes]]:
        """The values of several keys at once, in the order asked (None where absent)."""
        found = _call(
            "get many", self.name, lambda: batch.get_many(self._inner, list(keys))
        )
        return [None if entry is None else entry[1] for entry in found]

    def set_many(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Stores several keys at once."""
        pairs = [(key, bytes(value)) for key, value in entries]
        _call("set many", self.name, lambda: batch.set_many(self._inner, pairs))

    def delete_many(self, keys: Sequence[str]) -> None:
        """Removes several keys at once."""
        _call("delete many", self.name, lambda: batch.delete_many(self._inner, list(keys)))

    def __repr__(self) -> str:
        return f"Bucket({self.name!r})"
