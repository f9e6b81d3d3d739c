r"""Declared types and ranges of config values, checked before anything is built or written.

A task declares the keys it reads as a mapping ``'section.key' -> Field`` (see
:attr:`graphkit.tasks.run.Task.schema`); :func:`validate` checks a resolved config against it and raises a
:class:`ValueError` that names the key, what it got and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

__all__ = [
    'Field',
    'validate',
    'get_key',
    'model_schema',
    'WIDTH',
    'COUNT',
    'DEPTH',
    'DEPTH0',
    'RATE',
    'POSITIVE',
    'NONNEG',
]

_TYPES = {'int': int, 'float': float, 'bool': bool, 'str': str, 'list[int]': list, 'choice': object}


@dataclass(frozen=True)
class Field:
    r"""The declared form of one config value.

    Args:
        type (str): ``'int'``, ``'float'``, ``'bool'``, ``'str'``, ``'list[int]'``, or ``'choice'`` (one of
            :obj:`choices`, of any type: ``('auto', True, False)``).
        nullable (bool): Whether :obj:`None` (YAML ``null``) is allowed. (default: :obj:`False`)
        min (float, optional): Smallest allowed value (inclusive); for lists, of every element.
        max (float, optional): Largest allowed value (inclusive, unless :obj:`max_open`).
        max_open (bool): :obj:`max` itself is not allowed (a dropout rate in :math:`[0, 1)`).
            (default: :obj:`False`)
        choices (tuple, optional): The allowed values of a ``'str'`` field.
    """

    type: str
    nullable: bool = False
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Optional[Tuple[Any, ...]] = None
    max_open: bool = False

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"Field type must be one of {sorted(_TYPES)} (got '{self.type}')")

    def describe(self) -> str:
        """What is allowed, in words (for error messages)."""
        if self.choices is not None:
            text = ' | '.join(map(str, self.choices))
        else:
            text = {
                'int': 'an integer',
                'float': 'a finite number',
                'bool': 'true or false',
                'str': 'a string',
                'list[int]': 'a non-empty list of integers',
            }[self.type]
            if self.min is not None and self.max is not None:
                text += f' in [{self.min}, {self.max}{")" if self.max_open else "]"}'
            elif self.min is not None:
                text += f' >= {self.min}'
            elif self.max is not None:
                text += f' <= {self.max}'
        return text + (' or null' if self.nullable else '')

    def check(self, key: str, value: Any) -> Any:
        """Return :obj:`value` in its declared type (a float given as ``'1e-3'`` becomes ``0.001``), or raise a
        :class:`ValueError` naming :obj:`key`."""
        if value is None:
            if self.nullable:
                return None
            raise self._error(key, value)
        if self.type == 'choice':
            if not any(value == c and type(value) is type(c) for c in self.choices or ()):
                raise self._error(key, value)
            return value
        if self.type == 'bool':
            if not isinstance(value, bool):
                raise self._error(key, value)
            return value
        if self.type == 'str':
            if not isinstance(value, str) or (self.choices is not None and value not in self.choices):
                raise self._error(key, value)
            return value
        if self.type == 'list[int]':
            if (
                not isinstance(value, (list, tuple))
                or not value
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            ):
                raise self._error(key, value)
            for v in value:
                self._range(key, v, value)
            return list(value)
        if self.type == 'int':
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._error(key, value)
        else:  # float: YAML reads 1e-3 (no dot) as a string; accept what float() reads, refuse NaN / inf
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise self._error(key, value) from None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self._error(key, value)
            value = float(value)
        self._range(key, value, value)
        return value

    def _range(self, key: str, v: Any, shown: Any) -> None:
        above = self.max is not None and (v >= self.max if self.max_open else v > self.max)
        if (self.min is not None and v < self.min) or above:
            raise self._error(key, shown)

    def _error(self, key: str, value: Any) -> ValueError:
        return ValueError(f"Config key '{key}' must be {self.describe()} (got {value!r})")


def get_key(cfg: Mapping[str, Any], key: str) -> Any:
    """The value of the dotted :obj:`key` in :obj:`cfg` (a :class:`ValueError` naming it if absent)."""
    node: Any = cfg
    for part in key.split('.'):
        if not isinstance(node, Mapping) or part not in node:
            raise ValueError(f"Config key '{key}' is missing (or one of its sections was given a value)")
        node = node[part]
    return node


def _set_key(cfg: Dict[str, Any], key: str, value: Any) -> None:
    parts: Sequence[str] = key.split('.')
    node = cfg
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def validate(cfg: Dict[str, Any], schema: Mapping[str, Field]) -> Dict[str, Any]:
    r"""Check every key of :obj:`schema` in :obj:`cfg`, in place, converting values to their declared types
    (see :meth:`Field.check`); returns :obj:`cfg`."""
    for key, field in schema.items():
        _set_key(cfg, key, field.check(key, get_key(cfg, key)))
    return cfg


#: Common model fields: a layer width or count (>= 1; at most 2^20, beyond which no model fits in memory), a
#: count that may be 0, a number of layers (1..1000, or 0..1000), a dropout rate in [0, 1), a number > 0
#: (approximately: >= 1e-12) and a number >= 0.
WIDTH = Field('int', min=1, max=2**20)
COUNT = Field('int', min=0, max=2**20)
DEPTH = Field('int', min=1, max=1000)
DEPTH0 = Field('int', min=0, max=1000)
RATE = Field('float', min=0.0, max=1.0, max_open=True)
POSITIVE = Field('float', min=1e-12)
NONNEG = Field('float', min=0.0)


def model_schema(model_cls: type) -> Dict[str, Field]:
    r"""The declared ``model.*`` keys of a model class (its ``config_schema``: key -> :class:`Field`), prefixed
    with ``'model.'`` for :func:`validate`; ``{}`` for a model that declares none."""
    return {f'model.{k}': f for k, f in getattr(model_cls, 'config_schema', {}).items()}
