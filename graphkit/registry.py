"""Name → object registries (models, datasets, tasks), in the style of GraphGym's ``register.py``."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, TypeVar

T = TypeVar('T')


class Registry:
    r"""A mapping from names to objects that rejects duplicates and lists the known names on a miss.

    Args:
        kind (str): What is registered (``'model'``, ``'dataset'``); used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: Dict[str, Any] = {}

    def register(self, name: str, obj: Any = None) -> Any:
        """Register :obj:`obj` under :obj:`name`; used as ``@registry.register('name')`` without ``obj``."""

        def wrap(o: T) -> T:
            key = name.lower()
            if key in self._items:
                raise KeyError(f"{self.kind} '{name}' is already registered")
            self._items[key] = o
            return o

        return wrap if obj is None else wrap(obj)

    def get(self, name: str) -> Any:
        """Return the object registered under :obj:`name` (case-insensitive)."""
        try:
            return self._items[name.lower()]
        except KeyError:
            raise ValueError(f"Unknown {self.kind} '{name}'; known {self.kind}s: {', '.join(self.names())}") from None

    def names(self) -> List[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.kind}, {len(self)})'
