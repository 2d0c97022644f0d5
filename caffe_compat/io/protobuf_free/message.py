"""A message of Caffe's schema without protobuf: the fields set, and the schema's defaults
for the rest (:mod:`caffe_compat.proto.schema`), read as protobuf's Python messages read:
a field by name, a repeated field as a sequence, an unset message field as an empty message,
an enum as its number, ``HasField`` for the fields set. Messages are read-only: a changed
copy is made with :meth:`Message.replaced`. The fields set are the instance's own attributes
(a plain attribute read, as fast as Python's); the defaults come through ``__getattr__``."""
from __future__ import annotations

from caffe_compat.proto.schema import MESSAGES


class Tables(dict):
    """Message name -> ``make(the schema's fields of that message)``, made when first asked
    for (``[]``): a net reads a few dozen of the schema's messages, and a table of all of them
    cost every program that imported the reader about 0.4 ms."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, name):
        table = self[name] = self._make(MESSAGES[name])
        return table


# message name -> {field name: (number, kind, repeated, packed, default, type)}
FIELDS = Tables(lambda fields: {f[0]: f[1:] for f in fields})


class Message:
    """A ``type_name`` message holding ``values`` ({field name: value}; a repeated field a
    list, a message field a Message). Caffe's field names never start with ``_``."""

    def __init__(self, type_name, values=None):
        self.__dict__["_type"] = type_name
        if values:
            self.__dict__.update(values)

    def __getattr__(self, name):            # only for the fields not set
        if name[0] == "_":
            raise AttributeError(name)
        field = FIELDS[self._type].get(name)
        if field is None:
            raise AttributeError(f"{self._type} has no field {name!r}")
        _, kind, repeated, _, default, type_name = field
        if repeated:
            return []
        return Message(type_name) if kind == "message" else default

    def __setattr__(self, name, value):
        raise AttributeError(f"a {self._type} read by caffe_compat.io.protobuf_free is read-only "
                             "(Message.replaced makes a changed copy)")

    def HasField(self, name):          # noqa: N802 - protobuf's name
        field = FIELDS[self._type].get(name)
        if field is None or field[2]:
            raise ValueError(f"{self._type} has no singular field {name!r}")
        return name in self.__dict__

    def replaced(self, **values):
        """A copy with ``values`` set in place of the fields named."""
        out = self.fields()
        out.update(values)
        return Message(self._type, out)

    @property
    def type_name(self):
        return self._type

    def fields(self):
        """The fields set: {name: value}."""
        return {k: v for k, v in self.__dict__.items() if k != "_type"}

    def __repr__(self):
        return f"Message({self._type!r}, {self.fields()!r})"
