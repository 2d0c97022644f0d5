"""A light message against protobuf's, field by field: the same fields set, the same values
(floats bit for bit, NaN as NaN), for every field of the schema."""
import math

from caffe_compat.io.protobuf_free.message import FIELDS


def _same(a, b, kind):
    if kind in ("float", "double"):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                      math.copysign(1, b))
    return a == b and type(a) is type(b)


def differences(light, pb, path=""):
    """The paths where ``light`` (a caffe_compat.io.protobuf_free Message) and ``pb`` (a protobuf
    message of the same type) differ."""
    out = []
    for name, (_, kind, repeated, _, _, _) in FIELDS[light.type_name].items():
        where = f"{path}.{name}" if path else name
        got, want = getattr(light, name), getattr(pb, name)
        if repeated:
            if len(got) != len(want):
                out.append(f"{where}: {len(got)} entries against {len(want)}")
                continue
            for k, (g, w) in enumerate(zip(got, want)):
                if kind == "message":
                    out += differences(g, w, f"{where}[{k}]")
                elif not _same(g, w, kind):
                    out.append(f"{where}[{k}]: {g!r} against {w!r}")
            continue
        if light.HasField(name) != pb.HasField(name):
            out.append(f"{where}: set {light.HasField(name)} against {pb.HasField(name)}")
        if kind == "message":
            out += differences(got, want, where)
        elif not _same(got, want, kind):
            out.append(f"{where}: {got!r} against {want!r}")
    return out
