"""caffe_compat/proto/schema.py reads caffe.proto itself: its table must be the one protobuf
builds from protoc's reading of the same file (tests/fixtures/caffe_proto_descriptor/), field by
field, defaults included."""
import os
import shutil

import pytest

from caffe_compat.proto import schema

_KINDS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool",
          9: "string", 11: "message", 12: "bytes", 13: "uint32", 14: "enum"}


def _descriptor_table():
    """(MESSAGES, ENUMS, REQUIRED) as protobuf reads caffe.proto: protoc's descriptor in a pool
    of its own, a field's default as an empty message gives it back."""
    from google.protobuf import descriptor_pool, message_factory

    from tests.caffe_compat.test_proto import _protocs_descriptor
    fd = descriptor_pool.DescriptorPool().AddSerializedFile(
        _protocs_descriptor().SerializeToString())
    messages, enums, required = {}, {}, {}

    def short(full_name):
        return full_name[len(fd.package) + 1:]

    def add_enum(e):
        enums[short(e.full_name)] = {v.name: v.number for v in e.values}

    for e in fd.enum_types_by_name.values():
        add_enum(e)
    for name, m in fd.message_types_by_name.items():
        empty, fields = message_factory.GetMessageClass(m)(), []
        for f in m.fields:
            kind = _KINDS[f.type]
            type_name = short(f.message_type.full_name) if kind == "message" else \
                short(f.enum_type.full_name) if kind == "enum" else None
            default = None if f.is_repeated or kind == "message" else getattr(empty, f.name)
            fields.append((f.name, f.number, kind, f.is_repeated,
                           bool(f.is_repeated and f.is_packed), default, type_name))
            if f.is_required:
                required.setdefault(name, []).append(f.name)
        messages[name] = tuple(fields)
        for e in m.enum_types:
            add_enum(e)
    return messages, enums, required


def _proto_path():
    return os.path.join(os.path.dirname(schema.__file__), "caffe.proto")


@pytest.mark.parametrize("table", ["imported", "parsed"])
def test_the_schema_table_is_protobufs(table):
    got = (schema.MESSAGES, schema.ENUMS, schema.REQUIRED) if table == "imported" else \
        schema.read_proto(_proto_path())
    want = _descriptor_table()
    assert got[1:3] == want[1:]
    assert sorted(got[0]) == sorted(want[0])
    for name, fields in want[0].items():
        assert got[0][name] == fields, name
        # True is 1 and 1.0 == 1: the kinds of the defaults must match too
        assert [type(f[5]) for f in got[0][name]] == [type(f[5]) for f in fields], name


def test_the_table_is_kept_beside_the_bytecode_and_read_back(tmp_path, monkeypatch):
    """The first process parses and keeps the table in __pycache__; the next reads it back
    without parsing; where __pycache__ cannot be written (here a file of that name: root
    writes into read-only folders), each parses and still answers."""
    proto = tmp_path / "caffe.proto"
    shutil.copy(_proto_path(), proto)
    first = schema._table(str(proto))
    kept = list((tmp_path / "__pycache__").glob("caffe.proto.*.marshal"))
    assert len(kept) == 1
    monkeypatch.setattr(schema, "read_proto", lambda path: pytest.fail("parsed again"))
    assert schema._table(str(proto)) == first

    monkeypatch.undo()
    shutil.rmtree(tmp_path / "__pycache__")
    (tmp_path / "__pycache__").write_bytes(b"")        # a file where the folder would go
    assert schema._table(str(proto)) == first


def test_float_defaults_read_back_as_float32():
    """An unset float field reads as protobuf gives it back (0.0001 as float32)."""
    from caffe_compat.io.protobuf_free.message import Message
    from caffe_compat.proto import caffe_pb2
    for message, field in (("LRNParameter", "alpha"), ("LRNParameter", "beta"),
                           ("BatchNormParameter", "eps"), ("PriorBoxParameter", "offset")):
        assert getattr(Message(message), field) == getattr(getattr(caffe_pb2, message)(), field)
