"""Defensive readers for GeWe's loosely typed JSON (either key casing, ids as numbers or strings)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Python refuses str() of integers past 4300 digits (sys.get_int_max_str_digits()) with a ValueError. No GeWe
# id or time comes near this bound, so a longer number is garbage, read as missing.
_MAX_INT_DIGITS = 4000
_MAX_INT = 10**_MAX_INT_DIGITS


def normalise_key(key: str) -> str:
    """`TypeName`, `type_name` and `typename` all become `typename`."""
    return key.replace("_", "").lower()


def lookup(mapping: Any, *keys: str) -> Any:
    """First value found under any of `keys`, matching keys casing- and underscore-insensitively."""
    if not isinstance(mapping, Mapping):
        return None
    for key in keys:
        if key in mapping:
            return mapping[key]
    wanted = {normalise_key(key) for key in keys}
    for key, value in mapping.items():
        if isinstance(key, str) and normalise_key(key) in wanted:
            return value
    return None


def as_str(value: Any) -> str:
    """A scalar (or GeWe's `{"string": ...}` wrapper) as text; ids stay exact; anything else is "".

    Numbers that cannot be an id or a time (NaN, infinities, integers of thousands of digits) are "" too.
    """
    if isinstance(value, Mapping):
        value = lookup(value, "string")
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value) if -_MAX_INT < value < _MAX_INT else ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    return ""


def as_int(value: Any) -> int | None:
    """An integer from a number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -_MAX_INT < value < _MAX_INT else None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = as_str(value).strip()
    if len(text) > _MAX_INT_DIGITS:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def as_bool(value: Any) -> bool:
    """Truthiness as GeWe encodes it (true, 1, "true")."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def as_list(value: Any) -> list[Any]:
    """The value if it is a list, else an empty list."""
    return value if isinstance(value, list) else []


def as_str_list(value: Any) -> list[str]:
    """A list of ids/texts from a JSON list (items coerced) or a comma-separated string."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [text for text in (as_str(item) for item in as_list(value)) if text]
