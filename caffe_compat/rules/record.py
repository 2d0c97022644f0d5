"""``@frozen``: the value records of the rule modules, what ``dataclasses.dataclass(frozen=True)``
gives them with nothing generated.

The annotated names are the fields, in order (a value in the class body is a default);
``__init__`` takes them by position or name; setting or deleting an attribute afterwards raises
``AttributeError``; records are equal when their classes and fields are, hash by their fields,
and ``repr`` names each field. Not ``dataclasses``: a rule module is imported when a net of its
type is first read (also by a one-shot cv2.dnn program), and ``dataclass`` compiles each class's
methods: 1.7-2.8 ms a module against about 0.1 ms here (``python -X importtime``).
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
