""""Did you mean ...?" for misspelt layer types, parameter fields, enum values and blob names.

Every registered layer type (read at run time, so types added later are covered) and every
field of the messages a net or solver file uses gets single-edit typos: one deletion,
insertion, substitution and transposition each, at positions drawn from a generator seeded
by the name. The intended name must come first, unless the typo is as close to another
known name (then that tie may win, and the intended name must still be offered).
"""
import random
import re
import string
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caffe_compat import Net, registered_types
from caffe_compat.errors import NetError, PrototxtError
from caffe_compat.io.prototxt import parse_net, parse_solver
from caffe_compat.layers import layer_class
from caffe_compat.proto import caffe_pb2
from caffe_compat.diagnostics.suggest import closest, did_you_mean, edit_distance

EDITS = ("deletion", "insertion", "substitution", "transposition")


def typo(name, kind, rng):
    """One ``kind`` edit of ``name`` (lower-case letters inserted / substituted), or None."""
    n = len(name)
    letters = string.ascii_lowercase
    if kind == "deletion" and n > 1:
        i = rng.randrange(n)
        return name[:i] + name[i + 1:]
    if kind == "insertion":
        i = rng.randrange(n + 1)
        return name[:i] + rng.choice(letters) + name[i:]
    if kind == "substitution":
        i = rng.randrange(n)
        choices = [c for c in letters if c != name[i].lower()]
        return name[:i] + rng.choice(choices) + name[i + 1:]
    if kind == "transposition":
        spots = [i for i in range(n - 1) if name[i].lower() != name[i + 1].lower()]
        if spots:
            i = rng.choice(spots)
            return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    return None


def typos(name, per_kind=1):
    rng = random.Random(zlib.crc32(name.encode()))
    out = []
    for kind in EDITS:
        for _ in range(per_kind):
            t = typo(name, kind, rng)
            if t is not None:
                out.append((kind, t))
    return out


def check_first(intended, wrong, names, suggested, stats):
    """The rule of the module doc; returns a failure text or None."""
    others = [n for n in names if n != intended]
    if any(n.lower() == wrong.lower() for n in others):
        stats["not a typo"] += 1          # the edit spelled another known name
        return None
    d = edit_distance(wrong.lower(), intended.lower())
    rivals = [n for n in others if edit_distance(wrong.lower(), n.lower(), d) <= d]
    if not suggested:
        return f"{wrong!r} (typo of {intended!r}): no suggestion"
    if not rivals:
        stats["unique"] += 1
        return None if suggested[0] == intended else (
            f"{wrong!r} (typo of {intended!r}): suggested {suggested}")
    stats["tie"] += 1
    if intended not in suggested or suggested[0] not in [intended] + rivals:
        return f"{wrong!r} (typo of {intended!r}, as close to {rivals}): suggested {suggested}"
    return None


def suggestions_in(message):
    """The names of a "did you mean 'A', 'B' or 'C'?" sentence, in order."""
    m = re.search(r"did you mean (.*?)\?", message)
    return re.findall(r"""['"]([^'"]+)['"]""", m.group(1)) if m else []


# --------------------------------------------------------------------------------------------
# layer types

def test_every_registered_type_typo_suggests_that_type_first():
    types = registered_types()
    assert len(types) >= 47
    stats = {"unique": 0, "tie": 0, "not a typo": 0}
    failures, checked = [], 0
    for name in types:
        for kind, wrong in typos(name, per_kind=3):
            checked += 1
            failures.append(check_first(name, wrong, types, closest(wrong, types), stats))
    failures = [f for f in failures if f]
    assert not failures, f"{len(failures)} of {checked} typos:\n" + "\n".join(failures[:20])
    # most typos are unambiguous; ties (PReLU/ELU one edit apart from "PELU") are rare
    assert stats["unique"] >= 0.9 * checked, stats


def test_unknown_type_error_names_the_closest_types_not_all_of_them():
    types = registered_types()
    for name in types:
        kind, wrong = typos(name)[0]
        if any(t.lower() == wrong.lower() for t in types):
            continue
        with pytest.raises(NetError) as info:
            layer_class(wrong, "l1")
        msg = str(info.value)
        assert f"unknown layer type '{wrong}'" in msg and "layer 'l1'" in msg
        offered = suggestions_in(msg)
        assert name in offered and len(offered) <= 3, msg
        assert sum(t in msg for t in types if t not in offered) <= 1, msg   # not the full list


def test_unknown_type_in_a_net_points_at_its_type_line():
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer {\n  name: "loss_elt_sum"\n  type: "EuclideanLors"\n  bottom: "x"\n'
            '  bottom: "x"\n  top: "l"\n}\n')
    with pytest.raises(NetError, match=r"^<string>:4:3: layer 'loss_elt_sum': unknown layer type "
                                       r"'EuclideanLors'; did you mean 'EuclideanLoss'\?"):
        Net(text)


def test_case_only_difference_comes_first():
    assert closest("relu", registered_types())[0] == "ReLU"
    assert closest("innerproduct", registered_types())[0] == "InnerProduct"
    assert closest("SOFTMAX", registered_types())[0] == "Softmax"


def test_nothing_close_offers_nothing():
    assert closest("Zzzzzzzzzz", registered_types()) == []
    assert did_you_mean("Zzzzzzzzzz", registered_types()) == ""
    with pytest.raises(NetError, match="no registered type is close"):
        layer_class("Zzzzzzzzzz", "x")


# --------------------------------------------------------------------------------------------
# parameter fields and enum values

def _net_messages():
    """LayerParameter, NetParameter, SolverParameter and every message type under
    LayerParameter's fields (convolution_param, its fillers, ...)."""
    out, todo = {}, [caffe_pb2.NetParameter.DESCRIPTOR, caffe_pb2.SolverParameter.DESCRIPTOR,
                     caffe_pb2.LayerParameter.DESCRIPTOR]
    while todo:
        d = todo.pop()
        if d.full_name in out or d.name.startswith("V0") or d.name.startswith("V1"):
            continue
        out[d.full_name] = d
        if d.name in ("NetParameter", "SolverParameter"):
            continue    # their nested nets and states are reached through LayerParameter
        todo.extend(f.message_type for f in d.fields if f.message_type is not None)
    return list(out.values())


def test_every_field_typo_suggests_that_field_first():
    stats = {"unique": 0, "tie": 0, "not a typo": 0}
    failures, checked = [], 0
    messages = _net_messages()
    assert len(messages) > 40
    for desc in messages:
        names = list(desc.fields_by_name)
        for field in names:
            for kind, wrong in typos(field):
                checked += 1
                failures.append(check_first(field, wrong, names, closest(wrong, names), stats))
    failures = [f for f in failures if f]
    assert not failures, f"{len(failures)} of {checked} typos:\n" + "\n".join(failures[:20])
    assert stats["unique"] >= 0.8 * checked, stats


@pytest.mark.parametrize("text,line,col,first", [
    ('layer { name: "c" type: "Convolution"\n  convolution_param { kernal_size: 3 } }', 2, 23,
     "kernel_size"),
    ('layer { name: "c" type: "Convolution"\n  convolution_param { num_ouptut: 3 } }', 2, 23,
     "num_output"),
    ('layer { name: "c" type: "Convolution" botom: "x" }', 1, 39, "bottom"),
    ('nmae: "x"', 1, 1, "name"),
])
def test_misspelt_field_error_suggests_the_field(text, line, col, first):
    with pytest.raises(PrototxtError) as info:
        parse_net(text, "f.prototxt")
    msg = str(info.value)
    assert msg.startswith(f"f.prototxt:{line}:{col}: unknown field"), msg
    assert suggestions_in(msg)[0] == first, msg


def test_misplaced_field_says_where_it_belongs():
    with pytest.raises(PrototxtError, match=r'"kernel_size" belongs inside convolution_param '
                                            r"\{ \} or pooling_param \{ \}"):
        parse_net('layer { name: "p" type: "Pooling" kernel_size: 3 }', "f.prototxt")


def test_field_typo_through_the_parser_for_every_layer_param_field():
    """The parser's message offers the intended field first (one typo per field of every
    message under LayerParameter, written where that message sits in a layer)."""
    paths = {caffe_pb2.LayerParameter.DESCRIPTOR.full_name: ""}
    for f in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if f.message_type is not None and f.name.endswith("_param"):
            paths.setdefault(f.message_type.full_name, f.name)
    stats = {"unique": 0, "tie": 0, "not a typo": 0}
    failures, checked = [], 0
    for desc in _net_messages():
        if desc.full_name not in paths:
            continue
        outer = paths[desc.full_name]
        names = list(desc.fields_by_name)
        for field in names:
            kind, wrong = typos(field)[0]
            inner = f"{wrong}: 1"
            text = f"layer {{ {outer} {{ {inner} }} }}" if outer else f"layer {{ {inner} }}"
            try:
                parse_net(text, "t.prototxt")
                continue        # the typo is another field's name (and the value fits)
            except PrototxtError as e:
                msg = str(e)
            if "unknown field" not in msg:
                continue        # it spelled another field (whose value 1 does not parse)
            checked += 1
            failures.append(check_first(field, wrong, names, suggestions_in(msg), stats))
    failures = [f for f in failures if f]
    assert checked > 200
    assert not failures, f"{len(failures)} of {checked} typos:\n" + "\n".join(failures[:20])


@pytest.mark.parametrize("text,first", [
    ('layer { pooling_param { pool: MAXX } }', "MAX"),
    ('layer { pooling_param { pool: AVG } }', "AVE"),
    ('layer { include { phase: TRIAN } }', "TRAIN"),
    ('layers { type: CONVOLUTON }', "CONVOLUTION"),
    ('layer { eltwise_param { operation: SUMM } }', "SUM"),
])
def test_misspelt_enum_value_suggests_the_value(text, first):
    with pytest.raises(PrototxtError) as info:
        parse_net(text, "e.prototxt")
    msg = str(info.value)
    assert msg.startswith("e.prototxt:1:"), msg
    m = re.search(r"did you mean ([A-Z_0-9, ]+?)(?: or [A-Z_0-9]+)?\?", msg)
    assert m and m.group(1).split(",")[0].strip() == first, msg


def test_solver_field_and_enum_typos():
    with pytest.raises(PrototxtError, match=r'^s\.prototxt:2:1: unknown field "base_rl" in '
                                            r'SolverParameter: did you mean "base_lr"'):
        parse_solver('net: "n.prototxt"\nbase_rl: 0.1', "s.prototxt")
    with pytest.raises(PrototxtError, match=r"did you mean GPU\?"):
        parse_solver('solver_mode: GUP', "s.prototxt")


# --------------------------------------------------------------------------------------------
# blob names

def test_unknown_bottom_suggests_the_blob():
    text = ('layer { name: "in" type: "Input" top: "data" top: "label" '
            'input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "fc1"\n'
            '  inner_product_param { num_output: 2 } }\n'
            'layer { name: "loss" type: "EuclideanLoss"\n  bottom: "fc1"\n  bottom: "lable" }\n')
    with pytest.raises(NetError, match=r"^<string>:6:3: layer 'loss': unknown bottom blob "
                                       r"'lable' \(bottom index 1\).*did you mean 'label'\?"):
        Net(text)


def test_edit_distance_counts_a_swap_as_one():
    assert edit_distance("ReLU", "ReUL") == 1
    assert edit_distance("convolution", "deconvolution", limit=1) == 2   # limit + 1
    assert edit_distance("abcdef", "badcfe", limit=2) == 3
    assert edit_distance("abcdef", "badcfe") == 3
    assert edit_distance("abc", "abc") == 0
    assert edit_distance("", "abc") == 3
    assert edit_distance("convolution", "Deconvolution") == 2


@settings(max_examples=300, deadline=None)
@given(st.text("abcd", max_size=9), st.text("abcd", max_size=9), st.integers(0, 5))
def test_edit_distance_with_a_limit_is_the_capped_distance(a, b, limit):
    assert edit_distance(a, b, limit) == min(edit_distance(a, b), limit + 1)
