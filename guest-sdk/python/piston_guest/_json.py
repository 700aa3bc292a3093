"""JSON text, the data format at the WIT boundary.

Encoded the way the Rust SDK's serde_json encodes: compact, UTF-8 kept as it is, no
`NaN` or `Infinity` (they are not JSON and the host would refuse the document). Stored
values therefore read the same whichever SDK wrote them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

__all__ = ["dumps", "loads"]


def _default(value: Any) -> Any:
    # Dataclasses are the natural typed record in Python; emit them as objects.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Iterator):
        raise TypeError(
            f"an iterator ({type(value).__name__}) is not JSON data: "
            "return stream(items) to stream it"
        )
    raise TypeError(f"an object of type {type(value).__name__} is not JSON data")


# One encoder for every call: `json.dumps` with options builds a new encoder each time,
# which costs more than encoding a small document.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default
)


def dumps(value: Any) -> str:
    """`value` as compact JSON text; `TypeError` or `ValueError` if it is not JSON data."""
    return _ENCODER.encode(value)


def loads(text: str | bytes) -> Any:
    """The Python value of JSON `text`."""
    return json.loads(text)
