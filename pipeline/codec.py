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
    return json.loads(_dumps(value))


def _non_json(value: Any) -> Any:
    """What the JSON encoder calls for a value it cannot write itself (json.dumps ``default``): the C encoder
    writes strings, numbers, lists, tuples and dicts, and only dates, exact numbers, sets and dataclasses
    come here, one level at a time."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(encode(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_non_json)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


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
    return _decoder(tp)(value)


_Decoder = typing.Callable[[Any], Any]
_DECODE_ERRORS = (TypeError, ValueError, KeyError, InvalidOperation)


@functools.cache
def _decoder(tp: Any) -> _Decoder:
    """The function that decodes JSON values into ``tp``, built once per type: looking at the type's
    annotations for every value of a state file was most of the time it took to read."""
    if tp is Any:
        return _same
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        row = next((e for e in extras if isinstance(e, TableRow)), None)
        return _decoder(base) if row is None else _row_decoder(row.table)
    if origin in (Union, types.UnionType):
        return _union_decoder(typing.get_args(tp))
    if origin in (list, tuple, set, frozenset, dict):
        return _container_decoder(origin, typing.get_args(tp))
    if tp is datetime or tp is date:
        return functools.partial(_iso, tp)
    if tp is Decimal:
        return Decimal
    if tp is bool:
        return _boolean
    if tp in (int, float, str):
        return functools.partial(_scalar, tp, (int, float) if tp is float else tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    raise TypeError(f"cannot decode into {tp!r}")


def _same(value: Any) -> Any:
    return value


def _row_decoder(table: str) -> _Decoder:
    def decode_row(value: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"a {table} row must be an object")
        kinds = _row_types(table)
        return {k: _typed_cell(kinds.get(k), v) for k, v in value.items()}

    return decode_row


def _union_decoder(args: tuple[Any, ...]) -> _Decoder:
    optional = type(None) in args
    choices = [_decoder(arg) for arg in args if arg is not type(None)]

    def decode_union(value: Any) -> Any:
        if value is None:
            if optional:
                return None
            raise TypeError("null where a value is required")
        errors = []
        for choice in choices:
            try:
                return choice(value)
            except _DECODE_ERRORS as exc:
                errors.append(exc)
        raise TypeError(f"{value!r} fits none of {args}: {errors[0] if errors else ''}")

    return decode_union


def _container_decoder(origin: Any, args: tuple[Any, ...]) -> _Decoder:
    if origin is dict:
        key, item = (_decoder(a) for a in (args or (Any, Any)))

        def decode_dict(value: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError("an object was expected")
            return {key(k): item(v) for k, v in value.items()}

        return decode_dict
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        parts = [_decoder(a) for a in args]

        def decode_fixed_tuple(value: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError("a list was expected")
            if len(parts) != len(value):
                raise ValueError(f"a list of {len(parts)} was expected")
            return tuple(part(v) for part, v in zip(parts, value))

        return decode_fixed_tuple
    element = _decoder(args[0] if args else Any)
    make = tuple if origin is tuple else origin

    def decode_sequence(value: Any) -> Any:
        if not isinstance(value, list):
            raise TypeError("a list was expected")
        return make(element(v) for v in value) if element is not _same else make(value)

    return decode_sequence


def _iso(tp: type, value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError(f"a {'time' if tp is datetime else 'date'} must be a string")
    return tp.fromisoformat(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("a boolean was expected")
    return value


def _scalar(tp: type, accepted: Any, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise TypeError(f"{tp.__name__} expected, got {type(value).__name__}")
    return value if type(value) is tp else tp(value)


def _dataclass_decoder(tp: type) -> _Decoder:
    names = {f.name for f in dataclasses.fields(tp) if f.init}
    built: dict[str, dict[str, _Decoder]] = {}

    def decode_dataclass(value: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"{tp.__name__} must be an object")
        fields = built.get("fields")
        if fields is None:  # built on first use: a dataclass may name itself in its annotations
            fields = built["fields"] = {name: _decoder(hint) for name, hint in _hints(tp).items() if name in names}
        unknown = value.keys() - names
        if unknown:
            raise KeyError(f"unknown fields {sorted(unknown)} for {tp.__name__}")
        return tp(**{name: fields[name](item) for name, item in value.items()})

    return decode_dataclass


def dumps(kind: str, value: Any) -> bytes:
    return _dumps({"format": f"esf-pipeline/{kind}", "version": FORMAT_VERSION, "data": value}).encode()


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
