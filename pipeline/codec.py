"""Typed JSON for everything the pipeline keeps on disk between assets and runs (the run state, the
parse cache). Reading a file never executes anything: a file is a JSON document with a ``format``
name and a ``version``, and its ``data`` is decoded against the Python type it must have (dataclass
fields, their annotations, and the field registry for table rows). A file that is not JSON, is cut
short, names another format or version, or does not fit the type raises ``StateError`` with one line
that names it. The format is documented in docs/state-format.md."""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Union

# Raised when a file's format changes in a way old readers cannot follow; a reader that meets another
# version treats the file as foreign (the run rebuilds what it held).
FORMAT_VERSION = 1


class StateError(Exception):
    """A state or cache file that cannot be used: missing, truncated, foreign, or of another version."""


@dataclasses.dataclass(frozen=True)
class TableRow:
    """Marks ``dict[str, Any]`` as a row of a registry table, so its dates, times and exact numbers
    come back with their types: ``Annotated[dict[str, Any], TableRow("projects")]``."""

    table: str


def encode(value: Any) -> Any:
    """A value -> plain JSON values. Dates and times as ISO 8601, exact numbers as strings."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, datetime) or isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(encode(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot encode {type(value).__name__}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


@functools.cache
def _row_types(table: str) -> dict[str, str]:
    from pipeline.schema import TABLES

    return {f.name: f.type for f in TABLES[table].fields}


def _typed_cell(kind: str | None, value: Any) -> Any:
    if value is None or kind is None:
        return value
    if kind.startswith("date32"):
        return date.fromisoformat(value)
    if kind.startswith("timestamp"):
        return datetime.fromisoformat(value)
    if kind.startswith("decimal"):
        return Decimal(value)
    if kind == "double" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def decode(tp: Any, value: Any) -> Any:
    """JSON values -> an instance of ``tp``; raises ValueError/TypeError/KeyError where they do not fit."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        row = next((e for e in extras if isinstance(e, TableRow)), None)
        if row is None:
            return decode(base, value)
        if not isinstance(value, dict):
            raise TypeError(f"a {row.table} row must be an object")
        kinds = _row_types(row.table)
        return {k: _typed_cell(kinds.get(k), v) for k, v in value.items()}
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise TypeError("null where a value is required")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return decode(arg, value)
            except (TypeError, ValueError, KeyError, InvalidOperation) as exc:
                errors.append(exc)
        raise TypeError(f"{value!r} fits none of {args}: {errors[0] if errors else ''}")
    if origin in (list, tuple, set, frozenset, dict):
        args = typing.get_args(tp)
        if origin is dict:
            if not isinstance(value, dict):
                raise TypeError("an object was expected")
            key_type, value_type = args or (Any, Any)
            return {decode(key_type, k): decode(value_type, v) for k, v in value.items()}
        if not isinstance(value, list):
            raise TypeError("a list was expected")
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(decode(args[0], v) for v in value)
            if len(args) != len(value):
                raise ValueError(f"a list of {len(args)} was expected")
            return tuple(decode(a, v) for a, v in zip(args, value))
        return origin(decode(args[0] if args else Any, v) for v in value)
    if tp is datetime:
        if not isinstance(value, str):
            raise TypeError("a time must be a string")
        return datetime.fromisoformat(value)
    if tp is date:
        if not isinstance(value, str):
            raise TypeError("a date must be a string")
        return date.fromisoformat(value)
    if tp is Decimal:
        return Decimal(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError("a boolean was expected")
        return value
    if tp in (int, float, str):
        if isinstance(value, bool) or not isinstance(value, (int, float) if tp is float else tp):
            raise TypeError(f"{tp.__name__} expected, got {type(value).__name__}")
        return tp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{tp.__name__} must be an object")
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp) if f.init}
        unknown = set(value) - names
        if unknown:
            raise KeyError(f"unknown fields {sorted(unknown)} for {tp.__name__}")
        return tp(**{name: decode(hints[name], item) for name, item in value.items()})
    raise TypeError(f"cannot decode into {tp!r}")


def dumps(kind: str, value: Any) -> bytes:
    return json.dumps(
        {"format": f"esf-pipeline/{kind}", "version": FORMAT_VERSION, "data": encode(value)},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def loads(kind: str, tp: Any, data: bytes, name: str) -> Any:
    """Decode a file written by ``dumps``; ``name`` is how the error message names it."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{name} is not a readable state file (truncated or foreign: {exc})") from None
    if not isinstance(document, dict) or document.get("format") != f"esf-pipeline/{kind}":
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise StateError(f"{name} is not an esf-pipeline/{kind} file (format: {found!r})")
    if document.get("version") != FORMAT_VERSION:
        raise StateError(f"{name} has format version {document.get('version')!r}; this version reads {FORMAT_VERSION}")
    try:
        return decode(tp, document.get("data"))
    except (TypeError, ValueError, KeyError, InvalidOperation) as exc:
        raise StateError(f"{name} does not hold a valid {kind}: {exc}") from None
