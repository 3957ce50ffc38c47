"""Reading TOML tables with errors a person can act on (config and scenario files)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class TomlReader:
    """Typed access to one TOML table, with errors that name the file and the dotted key.

    Subclasses set `error_type` (the exception raised) and may add typed getters.
    """

    error_type: type[Exception] = ValueError

    def __init__(self, raw: Any, source: str, prefix: str) -> None:
        if not isinstance(raw, Mapping):
            raise self.error_type(f"{source}: '{prefix.rstrip('.')}' must be a table")
        self.raw, self.source, self.prefix = raw, source, prefix

    def keys(self) -> list[str]:
        return list(self.raw)

    def error(self, key: str, message: str) -> Exception:
        name = f"{self.prefix}{key}".rstrip(".")
        return self.error_type(f"{self.source}: '{name}': {message}")

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.raw:
            if default is None:
                raise self.error(key, "is missing")
            return default
        return self.raw[key]

    def table(self, key: str) -> TomlReader:
        return type(self)(self.raw.get(key, {}), self.source, f"{self.prefix}{key}.")

    def table_list(self, key: str) -> list[TomlReader]:
        items = self.raw.get(key, [])
        if not isinstance(items, list):
            raise self.error(key, f"must be an array of tables ([[{key}]]), got {items!r}")
        return [
            type(self)(item, self.source, f"{self.prefix}{key}[{index}].")
            for index, item in enumerate(items)
        ]

    def string(self, key: str, default: str | None) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        return value

    def string_list(self, key: str, default: list[str] | None = None) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(key, f"must be a list of strings, got {value!r}")
        return value

    def integer(self, key: str, default: int | None, minimum: int = 1) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"must be a whole number >= {minimum}, got {value!r}")
        return value

    def number(self, key: str, default: float | None, positive: bool = False) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            bound = "above 0" if positive else "0 or more"
            raise self.error(key, f"must be a finite number {bound}, got {value!r}")
        return float(value)

    def number_list(self, key: str) -> list[float]:
        value = self._get(key, None)
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a non-empty list of numbers, got {value!r}")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise self.error(key, f"must hold only numbers, found {item!r}")
            if not math.isfinite(item) or item < 0:
                raise self.error(key, f"must hold finite numbers >= 0, found {item!r}")
        return [float(item) for item in value]

    def reject_unknown(self, known: Any) -> None:
        unknown = sorted(set(self.raw) - set(known))
        if unknown:
            raise self.error(
                unknown[0], f"is not a known key here (known: {', '.join(sorted(known))})"
            )
