"""The plugin's settings: its `[plugins.NAME.config]` table in the host's `piston.toml`."""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

from componentize_py_types import Err
from wit_world.imports import wasi_config_store as store

__all__ = ["ConfigError", "get", "all"]

T = TypeVar("T")


class ConfigError(Exception):
    """The host could not read the plugin's settings."""


def _call(call: Callable[[], T]) -> T:
    try:
        return call()
    except Err as error:
        reason: Any = error.value
        if isinstance(reason, (store.Error_Upstream, store.Error_Io)):
            reason = reason.value
        raise ConfigError(f"reading plugin settings: {reason}") from None


def get(key: str) -> Optional[str]:
    """The setting `key`, or None when the operator did not set it."""
    return _call(lambda: store.get(key))


def all() -> list[tuple[str, str]]:  # noqa: A001 - mirrors wasi:config's get-all
    """Every setting, as `(key, value)` pairs."""
    return list(_call(store.get_all))
