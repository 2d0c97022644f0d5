"""Caffe's messages (``caffe.proto``) as protobuf classes, built when this module is imported.

:mod:`.schema` reads ``caffe.proto`` itself into a table; :func:`file_descriptor_proto` turns
that table into the ``FileDescriptorProto`` protoc writes for the file (the same bytes:
``tests/caffe_compat/test_caffe_pb2.py`` compares them with protoc's), which is added to
protobuf's default pool; ``message_factory.GetMessageClass`` makes each message's class. So
``caffe.proto`` is the one source of the schema, with nothing to regenerate after editing it,
and the module runs on every protobuf runtime from 4.22 on, where a generated module is pinned
to the release of the protoc that wrote it.

Its names are a generated module's: each top-level message's class (a nested enum and its
values on the class: ``PoolingParameter.PoolMethod.Name(0)``, ``PoolingParameter.MAX``), each
top-level enum (``Phase.Name(0)``) and its values (``TRAIN``), and ``DESCRIPTOR``."""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from . import schema

_PACKAGE = "caffe_compat"
_FIELD = descriptor_pb2.FieldDescriptorProto


def _default_text(kind, value, type_name):
    """A field's default as protoc writes it into the descriptor: an enum value by name, a
    float or a double in the fewest digits that read back as the value (``1e-08``, ``0.999``)."""
    if kind == "enum":
        return next(k for k, v in schema.ENUMS[type_name].items() if v == value)
    if kind == "bool":
        return "true" if value else "false"
    if kind in ("float", "double"):
        return next(text for text in ("%.*g" % (digits, value) for digits in range(1, 18))
                    if schema.literal(kind, text) == value)
    return value.decode() if kind == "bytes" else str(value)


def file_descriptor_proto():
    """``caffe.proto``'s ``FileDescriptorProto``, from :mod:`.schema`'s table: messages, fields
    and enums in the file's order, a field's default and ``packed`` only where the file writes
    them."""
    proto = descriptor_pb2.FileDescriptorProto(name="caffe_compat/proto/caffe.proto",
                                               package=_PACKAGE)
    scopes = {}
    for name, fields in schema.MESSAGES.items():
        outer, _, short = name.rpartition(".")
        message = scopes[name] = \
            (scopes[outer].nested_type if outer else proto.message_type).add(name=short)
        for field, number, kind, repeated, _, default, type_name in fields:
            label = "REPEATED" if repeated else \
                "REQUIRED" if field in schema.REQUIRED.get(name, ()) else "OPTIONAL"
            entry = message.field.add(name=field, number=number,
                                      label=_FIELD.Label.Value("LABEL_" + label),
                                      type=_FIELD.Type.Value("TYPE_" + kind.upper()))
            if type_name:
                entry.type_name = f".{_PACKAGE}.{type_name}"
            options = schema.OPTIONS.get(f"{name}.{field}", {})
            if "default" in options:
                entry.default_value = _default_text(kind, default, type_name)
            if "packed" in options:
                entry.options.packed = options["packed"] == "true"
    for name, values in schema.ENUMS.items():
        outer, _, short = name.rpartition(".")
        enum = (scopes[outer].enum_type if outer else proto.enum_type).add(name=short)
        for value, number in values.items():
            enum.value.add(name=value, number=number)
    return proto


class EnumType:
    """A top-level enum as a generated module holds it (protobuf's enum wrapper): ``Name``,
    ``Value``, ``keys``, ``values``, ``items`` and each value as an attribute."""
    ValueType = int

    def __init__(self, descriptor):
        self.DESCRIPTOR = descriptor

    def Name(self, number):
        if number in self.DESCRIPTOR.values_by_number:
            return self.DESCRIPTOR.values_by_number[number].name
        raise ValueError(f"Enum {self.DESCRIPTOR.name} has no name defined for value {number!r}")

    def Value(self, name):
        if name in self.DESCRIPTOR.values_by_name:
            return self.DESCRIPTOR.values_by_name[name].number
        raise ValueError(f"Enum {self.DESCRIPTOR.name} has no value defined for name {name!r}")

    def keys(self):
        return [v.name for v in self.DESCRIPTOR.values]

    def values(self):
        return [v.number for v in self.DESCRIPTOR.values]

    def items(self):
        return [(v.name, v.number) for v in self.DESCRIPTOR.values]

    def __getattr__(self, name):
        if name == "DESCRIPTOR" or name not in self.DESCRIPTOR.values_by_name:
            raise AttributeError(f"enum has no value named {name!r}")
        return self.DESCRIPTOR.values_by_name[name].number

# the descriptor's bytes are kept beside the bytecode as the table is (building them takes 3 ms)
DESCRIPTOR = descriptor_pool.Default().AddSerializedFile(schema.kept(
    "caffe.proto.descriptor", lambda: file_descriptor_proto().SerializeToString(),
    schema.PATH, schema.__file__, __file__))
for _name, _descriptor in DESCRIPTOR.message_types_by_name.items():
    globals()[_name] = message_factory.GetMessageClass(_descriptor)
    globals()[_name].__module__ = __name__          # pickle finds the class here
for _name, _descriptor in DESCRIPTOR.enum_types_by_name.items():
    globals()[_name] = EnumType(_descriptor)
    globals().update((value.name, value.number) for value in _descriptor.values)
