"""``@frozen``: the value records of the rule modules (a layer's parameters as Caffe sets them
up), with what ``dataclasses.dataclass(frozen=True)`` gives them and nothing generated.

The class's annotated names are its fields, in order; a name given a value in the class body
has that default. ``__init__`` takes them by position or name and sets each once; setting or
deleting an attribute afterwards raises ``AttributeError`` (``dataclasses.FrozenInstanceError``
derives from it); two records are equal when their classes and fields are, and hash by their
fields; ``repr`` names each field.

Why not ``dataclasses``: a rule module is imported the first time a net of its type is read,
also by a one-shot cv2.dnn program, and ``dataclass`` writes and compiles the methods of each
class as it is defined. Importing ``dataclasses`` took 1.4-1.6 ms and a rule module with one
record 1.7-2.8 ms on the 2-core AMD EPYC (``python -X importtime``), against about 0.1 ms
here.
"""
from __future__ import annotations

_MISSING = object()


def frozen(cls):
    """Make ``cls`` a frozen record of its annotated fields (module doc)."""
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    for n in defaults:
        delattr(cls, n)                    # the instance's value, not the class's, is read
    required = [n for n in names if n not in defaults]
    qualname = cls.__qualname__

    count = len(names)

    def __init__(self, *args, **kwargs):
        if not kwargs and len(args) == count:          # every field by position
            object.__getattribute__(self, "__dict__").update(zip(names, args))
            return
        if len(args) > count:
            raise TypeError(f"{qualname}() takes {count} field(s), {len(args)} given")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{qualname}() has no field {name!r}")
            if name in values:
                raise TypeError(f"{qualname}() got field {name!r} twice")
            values[name] = value
        missing = [n for n in required if n not in values]
        if missing:
            raise TypeError(f"{qualname}() is missing field(s) {', '.join(missing)}")
        for name in names:
            object.__setattr__(self, name, values.get(name, defaults.get(name, _MISSING)))

    def _fields(self):
        return tuple(getattr(self, n) for n in names)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _fields(self) == _fields(other)

    def __hash__(self):
        return hash(_fields(self))

    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{qualname}({inner})"

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {qualname}")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r} of a frozen {qualname}")

    for method in (__init__, __eq__, __hash__, __repr__, __setattr__, __delattr__):
        method.__qualname__ = f"{qualname}.{method.__name__}"
        setattr(cls, method.__name__, method)
    cls.__match_args__ = names
    return cls
