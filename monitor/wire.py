"""Typed records across a process boundary: dataclasses packed field by field into the
primitives `marshal` carries (str, bytes, int, float, bool, None, tuple, list, dict), and back.

The parse workers send their results this way. A record is packed as a dict keyed by field
name and rebuilt from its class's type hints, so adding or reordering a field cannot shift
another's value, and a value of the wrong type (a confused or compromised worker) is refused
with `WireError` instead of landing in the wrong column. Datetimes travel as
(year, month, day, hour, minute, second, microsecond, utc): `utc` 1 for a timezone-aware UTC
value, 0 for a naive one; an aware value in another zone is sent as UTC.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


class WireError(ValueError):
    """A packed record that does not fit its class (missing field, wrong type)."""


def pack(record: Any) -> dict[str, Any]:
    """A dataclass instance as {field name: primitive value}."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"pack takes a dataclass instance, not {type(record).__name__}")
    return {f.name: _pack_value(getattr(record, f.name)) for f in dataclasses.fields(record)}


def unpack(cls: type[T], data: Any) -> T:
    """The `cls` instance that `pack` made `data` of; WireError when it does not fit."""
    decode: Decoder = _decoder(cls)  # type: ignore[arg-type]  # a dataclass type is hashable
    return decode(data)


def _pack_value(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value.tzinfo is not None
        if aware:
            value = value.astimezone(UTC)
        return (value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond, int(aware))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return pack(value)
    if isinstance(value, (list, tuple)):
        return [_pack_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _pack_value(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------------------
# Decoders, built once per type from the type hints


Decoder = Callable[[Any], Any]


@cache
def _decoder(tp: Any) -> Decoder:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _record_decoder(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _union_decoder(typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        return _list_decoder(_decoder(item))
    if origin is dict:
        key, value = typing.get_args(tp)
        return _dict_decoder(_decoder(key), _decoder(value))
    if tp is datetime:
        return _datetime
    if tp is type(None):
        return _none
    if tp is bool:
        return _exact(bool)
    if tp is int:
        return _int
    if tp is float:
        return _float
    if tp is str:
        return _exact(str)
    if tp is bytes:
        return _exact(bytes)
    raise TypeError(f"no wire form for {tp!r}")


def _record_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _decoder(hints[f.name]), _has_default(f)) for f in dataclasses.fields(cls) if f.init]

    def decode(data: Any) -> Any:
        if not isinstance(data, dict):
            raise WireError(f"{cls.__name__}: expected a packed record, got {type(data).__name__}")
        values = {}
        for name, field_decoder, optional in fields:
            if name in data:
                try:
                    values[name] = field_decoder(data[name])
                except WireError as e:
                    raise WireError(f"{cls.__name__}.{name}: {e}") from None
            elif not optional:
                raise WireError(f"{cls.__name__}: field {name!r} is missing")
        return cls(**values)

    return decode


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _union_decoder(options: tuple) -> Decoder:
    nullable = type(None) in options
    rest = [o for o in options if o is not type(None)]
    if len(rest) != 1:
        raise TypeError(f"no wire form for a union of {options!r}")
    inner = _decoder(rest[0])

    def decode(value: Any) -> Any:
        if value is None and nullable:
            return None
        return inner(value)

    return decode


def _list_decoder(item: Decoder) -> Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise WireError(f"expected a list, got {type(value).__name__}")
        return [item(v) for v in value]

    return decode


def _dict_decoder(key: Decoder, value: Decoder) -> Decoder:
    def decode(data: Any) -> Any:
        if not isinstance(data, dict):
            raise WireError(f"expected a dict, got {type(data).__name__}")
        return {key(k): value(v) for k, v in data.items()}

    return decode


def _exact(tp: type) -> Decoder:
    def decode(value: Any) -> Any:
        if type(value) is not tp:
            raise WireError(f"expected {tp.__name__}, got {type(value).__name__}")
        return value

    return decode


def _int(value: Any) -> int:
    if type(value) is not int:
        raise WireError(f"expected int, got {type(value).__name__}")
    return value


def _float(value: Any) -> float:
    if type(value) not in (int, float):
        raise WireError(f"expected float, got {type(value).__name__}")
    return float(value)


def _none(value: Any) -> None:
    if value is not None:
        raise WireError(f"expected None, got {type(value).__name__}")


def _datetime(value: Any) -> datetime:
    if not isinstance(value, (list, tuple)) or len(value) != 8 or any(type(v) is not int for v in value):
        raise WireError("expected a packed datetime")
    year, month, day, hour, minute, second, microsecond, utc = value
    try:
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC if utc else None)
    except (ValueError, OverflowError) as e:
        raise WireError(f"not a date: {e}") from None
