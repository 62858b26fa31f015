"""``Value``: the base of the engine's small immutable values (actions, events, verdicts).

What ``@dataclass(frozen=True, slots=True)`` gives them (equality, hash, a repr, pattern
matching by ``__match_args__``, no assignment after construction) for a fraction of its cost:
a dataclass generates and compiles five functions per class when its module is imported
(about 0.35 ms each class, a quarter of what ``progress-client wait`` spends in its own modules
before its first request), and a frozen one's ``__init__`` goes through ``object.__setattr__``
for every field of every action the engine hands out. A subclass lists its slots and its
public fields (``__match_args__``: what equality, hash and repr read) and writes its
``__init__`` with ``setslot``. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Value", "setslot"]

#: Sets a slot of a ``Value`` (its ``__init__``'s way; assignment is refused afterwards).
setslot = object.__setattr__


class Value:
    """Equality, hash and repr over ``__match_args__``; immutable once built."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise _frozen(name)

    def __delattr__(self, name: str) -> None:
        raise _frozen(name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), {n: getattr(self, n) for n in _slots(type(self))}))


def _frozen(name: str) -> AttributeError:
    from dataclasses import FrozenInstanceError  # what a frozen dataclass raises

    return FrozenInstanceError(f"cannot assign to field {name!r}")


def _slots(cls: type) -> list[str]:
    return [s for c in cls.__mro__ for s in getattr(c, "__slots__", ())]


def _rebuild(cls: type[Value], state: dict[str, Any]) -> Value:
    obj = cls.__new__(cls)
    for name, value in state.items():
        setslot(obj, name, value)
    return obj
