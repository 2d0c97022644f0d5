"""Hypothesis strategies for hostile inputs: valid seed files of every kind, and mutations.

Two families per kind:

* *structured* generation (a grammar or a builder that writes real files with random content:
  nets, HDF5 datasets of any dtype/shape/chunking, MAT variables, ARFF headers, CSV rows), which
  reaches the checks deep inside the readers;
* *mutation* of valid seeds: byte-level (truncation, bit flips, inserted/deleted/duplicated
  chunks, absurd integers) and format-aware (protobuf wire fields: wrong wire types, lying length
  prefixes, huge varints, fields of Caffe forks; prototxt tokens: numbers, names, braces, fork
  fields), which models half-copied drives and files from other tools.

Everything is drawn through hypothesis, so failures shrink to a small input.
"""
from __future__ import annotations

import functools
import io
import os
import re
import struct

import numpy as np
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------------
# Generic byte and text mutation

INTERESTING_INTS = [0, 1, 2, 3, 7, 8, 15, 16, 31, 64, 127, 128, 255, 256, 1000, 4096, 65535,
                    65536, 2**24, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53, 2**63 - 1, 2**63,
                    2**64 - 1]
INTERESTING_BYTES = [0x00, 0x01, 0x08, 0x0a, 0x0d, 0x20, 0x7f, 0x80, 0xfe, 0xff]
_BYTE_OPS = ("truncate", "flip", "byte", "insert", "delete", "dup", "splice", "varint", "int32",
             "int64", "zero_run")


def encode_varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _lazy_seeds(seed_fn):
    """Strategy for one of ``seed_fn()``'s seeds (computed on first draw, then cached)."""
    return st.integers(0, 1 << 16).map(lambda i: seed_fn()[i % len(seed_fn())])


@st.composite
def mutate_bytes(draw, data, others=(), max_ops=6, min_ops=1):
    """``data`` after 1..max_ops random byte-level edits."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(min_ops, max_ops))):
        op = draw(st.sampled_from(_BYTE_OPS))
        n = len(buf)
        pos = draw(st.integers(0, max(n - 1, 0)))
        if op == "truncate":
            del buf[pos:]
        elif op == "flip" and n:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and n:
            buf[pos] = draw(st.sampled_from(INTERESTING_BYTES) | st.integers(0, 255))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=24))
        elif op == "delete":
            del buf[pos:pos + draw(st.integers(1, 64))]
        elif op == "dup" and n:
            length = draw(st.integers(1, 256))
            chunk = buf[pos:pos + length]
            at = draw(st.integers(0, n))
            buf[at:at] = chunk
        elif op == "splice" and others:
            other = draw(st.sampled_from(list(others)))
            if other:
                a = draw(st.integers(0, len(other) - 1))
                chunk = other[a:a + draw(st.integers(1, 512))]
                if draw(st.booleans()):
                    buf[pos:pos + len(chunk)] = chunk
                else:
                    buf[pos:pos] = chunk
        elif op == "varint":
            enc = encode_varint(draw(st.sampled_from(INTERESTING_INTS)))
            buf[pos:pos + len(enc)] = enc
        elif op in ("int32", "int64"):
            width = 4 if op == "int32" else 8
            value = draw(st.sampled_from(INTERESTING_INTS)) & ((1 << (8 * width)) - 1)
            buf[pos:pos + width] = value.to_bytes(width, draw(st.sampled_from(["little", "big"])))
        elif op == "zero_run" and n:
            length = draw(st.integers(1, 512))
            buf[pos:pos + length] = bytes(min(length, n - pos))
    return bytes(buf)


def mutated(seed_fn, max_ops=6, structured=None):
    """Seeds of ``seed_fn`` after byte mutations (and, if given, format-aware ``structured``
    mutations), plus the unmutated seeds now and then."""
    @st.composite
    def strat(draw):
        data = draw(_lazy_seeds(seed_fn))
        mode = draw(st.sampled_from(["bytes", "bytes", "structured", "both", "none"]
                                    if structured else ["bytes", "bytes", "bytes", "none"]))
        if mode in ("structured", "both"):
            data = draw(structured(data))
        if mode in ("bytes", "both"):
            data = draw(mutate_bytes(data, seed_fn(), max_ops=max_ops))
        return data

    return strat()


NASTY_TEXT = ["\x00", "\ufeff", "\u2028", "\r", "\r\n", "\t", "\x0b", "\x1c", "\xa0", "\"", "'",
              "\\", "{", "}", "#", "%", ";", ",", ":", "@", "?", "\u00e9", "\U0001f600",
              "\u0661", "\uff11", "1e999", "-0", "nan", "inf", "0x10", "1_000", " " * 40]
INTERESTING_NUMBERS = ["0", "-1", "1", "2", "3", "-2147483648", "2147483647", "2147483648",
                       "4294967296", "9223372036854775807", "18446744073709551616", "1e38",
                       "1e39", "-1e39", "3.4028236e38", "1e-45", "0.5", "-0.0", "nan", "inf",
                       "-inf", "1e999", "007", "0x1F", "1.5", "99999999999999999999999"]
_TOKEN_RE = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|\S")


@st.composite
def mutate_text(draw, text, vocabulary=(), lines=(), max_ops=4):
    """``text`` after token-level edits: numbers -> boundary values, words -> vocabulary,
    duplicated / deleted / inserted lines, nasty characters."""
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["number", "word", "dup_line", "del_line", "ins_line",
                                   "char", "del_token", "swap_lines"]))
        tokens = list(_TOKEN_RE.finditer(text))
        rows = text.split("\n")
        if op in ("number", "word", "del_token") and tokens:
            want = (lambda t: t[0].isdigit() or t[0] == "-") if op == "number" else \
                (lambda t: t[0].isalpha() or t[0] == "_") if op == "word" else (lambda t: True)
            cands = [m for m in tokens if want(m.group())] or tokens
            m = cands[draw(st.integers(0, len(cands) - 1))]
            if op == "number":
                new = draw(st.sampled_from(INTERESTING_NUMBERS))
            elif op == "word":
                new = draw(st.sampled_from(list(vocabulary) or ["x"]))
            else:
                new = ""
            text = text[:m.start()] + new + text[m.end():]
        elif op == "dup_line" and rows:
            i = draw(st.integers(0, len(rows) - 1))
            rows.insert(i, rows[i])
            text = "\n".join(rows)
        elif op == "del_line" and rows:
            del rows[draw(st.integers(0, len(rows) - 1))]
            text = "\n".join(rows)
        elif op == "ins_line":
            new = draw(st.sampled_from(list(lines))) if lines else draw(st.text(max_size=30))
            rows.insert(draw(st.integers(0, len(rows))), new)
            text = "\n".join(rows)
        elif op == "swap_lines" and len(rows) > 1:
            i = draw(st.integers(0, len(rows) - 2))
            rows[i], rows[i + 1] = rows[i + 1], rows[i]
            text = "\n".join(rows)
        elif op == "char":
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(st.sampled_from(NASTY_TEXT)) + text[pos:]
    return text


def text_cases(seed_fn, vocabulary=(), lines=(), grammar=None):
    """Bytes of text files: seeds, token-mutated seeds, grammar output, and byte-mutated ones
    (invalid UTF-8, NULs, truncation)."""
    @st.composite
    def strat(draw):
        choices = ["seed", "tokens", "tokens", "tokens", "bytes", "tokens+bytes"]
        if grammar is not None:
            choices += ["grammar", "grammar", "grammar", "grammar", "grammar+tokens"]
        mode = draw(st.sampled_from(choices))
        if mode.startswith("grammar"):
            text = draw(grammar)
        else:
            text = draw(_lazy_seeds(seed_fn))
        if "tokens" in mode:
            text = draw(mutate_text(text, vocabulary, lines))
        data = text.encode("utf-8", "surrogatepass")
        if "bytes" in mode:
            data = draw(mutate_bytes(data, [s.encode() for s in seed_fn()], max_ops=3))
        return data

    return strat()


# --------------------------------------------------------------------------------------------
# Protobuf wire format (caffemodel, solverstate)

class Field:
    __slots__ = ("number", "wire", "value", "sub", "length_lie")

    def __init__(self, number, wire, value, sub=None):
        self.number, self.wire, self.value, self.sub = number, wire, value, sub
        self.length_lie = None


def wire_decode(data, depth=0):
    """Fields of ``data`` (None if it is not well-formed protobuf); length-delimited payloads
    that decode as messages get a ``sub`` list (heuristic: strings may decode too)."""
    fields, pos, n = [], 0, len(data)
    try:
        while pos < n:
            tag, pos = _read_varint(data, pos)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                return None
            if wire == 0:
                value, pos = _read_varint(data, pos)
                fields.append(Field(number, 0, value))
            elif wire in (1, 5):
                size = 8 if wire == 1 else 4
                if pos + size > n:
                    return None
                fields.append(Field(number, wire, data[pos:pos + size]))
                pos += size
            elif wire == 2:
                length, pos = _read_varint(data, pos)
                if pos + length > n:
                    return None
                payload = data[pos:pos + length]
                pos += length
                sub = wire_decode(payload, depth + 1) if depth < 6 and payload else None
                fields.append(Field(number, 2, payload, sub))
            else:
                return None
    except IndexError:
        return None
    return fields


def _read_varint(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise IndexError


def wire_encode(fields):
    out = bytearray()
    for f in fields:
        out += encode_varint((f.number << 3) | f.wire)
        if f.wire == 0:
            out += encode_varint(f.value if isinstance(f.value, int) else 0)
        elif f.wire in (1, 5):
            raw = f.value if isinstance(f.value, (bytes, bytearray)) else b""
            out += raw
        elif f.wire == 2:
            payload = wire_encode(f.sub) if f.sub is not None else bytes(f.value) \
                if isinstance(f.value, (bytes, bytearray)) else encode_varint(int(f.value))
            out += encode_varint(len(payload) if f.length_lie is None else f.length_lie)
            out += payload
        else:  # groups (3, 4) and invalid wire types 6, 7: write the raw value after the tag
            out += f.value if isinstance(f.value, (bytes, bytearray)) else encode_varint(
                int(f.value) if isinstance(f.value, int) else 0)
    return bytes(out)


def _all_lists(fields, acc=None):
    """Every field list of the tree (the top one and every decoded sub-message)."""
    acc = [] if acc is None else acc
    acc.append(fields)
    for f in fields:
        if f.sub is not None:
            _all_lists(f.sub, acc)
    return acc


# Field numbers of Caffe forks' additions and of far-away numbers (unknown to Caffe 1.0).
FORK_FIELD_NUMBERS = [19, 20, 99, 100, 147, 150, 200, 1000, 1001, 4096, 65535, 536870911]


@st.composite
def mutate_wire(draw, data, max_ops=4):
    """Format-aware protobuf edits of ``data`` (returned re-encoded)."""
    fields = wire_decode(data)
    if fields is None:
        return data
    for _ in range(draw(st.integers(1, max_ops))):
        lists = [lst for lst in _all_lists(fields)]
        target = lists[draw(st.integers(0, len(lists) - 1))]
        op = draw(st.sampled_from(["drop", "dup", "wire_type", "number", "varint", "payload",
                                   "length_lie", "fork_field", "packed_len", "swap"]))
        if not target and op != "fork_field":
            op = "fork_field"
        i = draw(st.integers(0, max(len(target) - 1, 0)))
        if op == "drop":
            del target[i]
        elif op == "dup":
            f = target[i]
            g = Field(f.number, f.wire, f.value, f.sub)
            target.insert(i, g)
        elif op == "wire_type":
            f = target[i]
            f.wire = draw(st.sampled_from([w for w in range(8) if w != f.wire]))
            if f.wire == 2 and f.sub is None and not isinstance(f.value, (bytes, bytearray)):
                f.value = encode_varint(f.value)
            f.sub = None if f.wire != 2 else f.sub
        elif op == "number":
            target[i].number = draw(st.sampled_from(FORK_FIELD_NUMBERS) | st.integers(1, 20))
        elif op == "varint":
            f = target[i]
            f.wire, f.sub = 0, None
            f.value = draw(st.sampled_from(INTERESTING_INTS))
        elif op == "payload":
            f = target[i]
            if f.wire == 2:
                f.sub = None
                f.value = draw(mutate_bytes(bytes(f.value) if isinstance(
                    f.value, (bytes, bytearray)) else b"", max_ops=2))
        elif op == "length_lie":
            f = target[i]
            if f.wire == 2:
                f.length_lie = draw(st.sampled_from(INTERESTING_INTS))
        elif op == "fork_field":
            number = draw(st.sampled_from(FORK_FIELD_NUMBERS))
            wire = draw(st.sampled_from([0, 1, 2, 5]))
            value = (draw(st.sampled_from(INTERESTING_INTS)) if wire == 0 else
                     draw(st.binary(min_size=8, max_size=8)) if wire == 1 else
                     draw(st.binary(min_size=4, max_size=4)) if wire == 5 else
                     draw(st.binary(max_size=32)))
            target.insert(draw(st.integers(0, len(target))), Field(number, wire, value))
        elif op == "packed_len":
            f = target[i]
            if f.wire == 2 and isinstance(f.value, (bytes, bytearray)):
                f.sub = None
                k = draw(st.integers(-8, 8))
                f.value = bytes(f.value[:max(0, len(f.value) + 4 * k)]) if k < 0 else \
                    bytes(f.value) + bytes(4 * k)
        elif op == "swap" and len(target) > 1:
            j = draw(st.integers(0, len(target) - 1))
            target[i], target[j] = target[j], target[i]
    return wire_encode(fields)


# --------------------------------------------------------------------------------------------
# Nets (prototxt and caffemodel seeds)

NET_SEEDS = [
    # conv / pool / fc / dropout / loss, new-style Input
    """name: "tiny"
layer { name: "in" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 2 dim: 1 dim: 12 dim: 12 } shape { dim: 2 dim: 1 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        param { lr_mult: 1 } param { lr_mult: 2 }
        convolution_param { num_output: 3 kernel_size: 3 stride: 1 pad: 1
                            weight_filler { type: "xavier" } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip"
        inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "drop" type: "Dropout" bottom: "ip" top: "ip" dropout_param { dropout_ratio: 0.5 } }
layer { name: "out" type: "InnerProduct" bottom: "ip" top: "out" inner_product_param { num_output: 1 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "label" top: "loss" }
""",
    # legacy input fields, normalisations, neurons
    """name: "neurons"
input: "data"
input_dim: 2 input_dim: 3 input_dim: 6 input_dim: 6
layer { name: "bn" type: "BatchNorm" bottom: "data" top: "bn" batch_norm_param { use_global_stats: true } }
layer { name: "sc" type: "Scale" bottom: "bn" top: "sc" scale_param { bias_term: true } }
layer { name: "pr" type: "PReLU" bottom: "sc" top: "pr" }
layer { name: "elu" type: "ELU" bottom: "pr" top: "elu" elu_param { alpha: 0.5 } }
layer { name: "sig" type: "Sigmoid" bottom: "elu" top: "sig" }
layer { name: "tanh" type: "TanH" bottom: "sig" top: "tanh" }
layer { name: "abs" type: "AbsVal" bottom: "tanh" top: "abs" }
layer { name: "pow" type: "Power" bottom: "abs" top: "pow" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "exp" type: "Exp" bottom: "pow" top: "exp" exp_param { base: -1 scale: 0.1 } }
layer { name: "log" type: "Log" bottom: "exp" top: "log" }
layer { name: "bnll" type: "BNLL" bottom: "log" top: "bnll" }
layer { name: "thr" type: "Threshold" bottom: "bnll" top: "thr" threshold_param { threshold: 0.5 } }
layer { name: "sw" type: "Swish" bottom: "bnll" top: "sw" }
layer { name: "clip" type: "Clip" bottom: "sw" top: "clip" clip_param { min: -1 max: 1 } }
layer { name: "lrn" type: "LRN" bottom: "clip" top: "lrn" lrn_param { local_size: 3 } }
layer { name: "mvn" type: "MVN" bottom: "lrn" top: "mvn" }
layer { name: "bias" type: "Bias" bottom: "mvn" top: "bias" }
""",
    # multi-blob plumbing
    """name: "plumbing"
layer { name: "in" type: "Input" top: "a" top: "b" top: "idx"
        input_param { shape { dim: 4 dim: 6 dim: 5 dim: 5 } shape { dim: 4 dim: 6 dim: 5 dim: 5 }
                      shape { dim: 3 } } }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" concat_param { axis: 1 } }
layer { name: "sl" type: "Slice" bottom: "cat" top: "s1" top: "s2" slice_param { axis: 1 slice_point: 6 } }
layer { name: "el" type: "Eltwise" bottom: "a" bottom: "b" top: "el" eltwise_param { operation: SUM coeff: 1 coeff: -1 } }
layer { name: "sp" type: "Split" bottom: "el" top: "e1" top: "e2" }
layer { name: "fl" type: "Flatten" bottom: "e1" top: "fl" }
layer { name: "rs" type: "Reshape" bottom: "e2" top: "rs" reshape_param { shape { dim: 0 dim: -1 } } }
layer { name: "crop" type: "Crop" bottom: "s1" bottom: "s2" top: "crop" crop_param { axis: 2 offset: 0 } }
layer { name: "tile" type: "Tile" bottom: "s2" top: "tile" tile_param { axis: 1 tiles: 2 } }
layer { name: "red" type: "Reduction" bottom: "fl" top: "red" reduction_param { operation: SUMSQ axis: 1 } }
layer { name: "am" type: "ArgMax" bottom: "fl" top: "am" argmax_param { top_k: 2 } }
layer { name: "sm" type: "Softmax" bottom: "fl" top: "sm" }
layer { name: "br" type: "BatchReindex" bottom: "a" bottom: "idx" top: "br" }
layer { name: "spp" type: "SPP" bottom: "crop" top: "spp" spp_param { pyramid_height: 2 } }
layer { name: "dec" type: "Deconvolution" bottom: "tile" top: "dec"
        convolution_param { num_output: 2 kernel_size: 2 stride: 2 weight_filler { type: "bilinear" } } }
layer { name: "par" type: "Parameter" top: "par" parameter_param { shape { dim: 2 dim: 3 } } }
layer { name: "si" type: "Silence" bottom: "par" bottom: "red" bottom: "am" bottom: "sm" bottom: "br" bottom: "spp" bottom: "dec" bottom: "rs" }
""",
    # losses and accuracy
    """name: "losses"
layer { name: "in" type: "Input" top: "x" top: "y" top: "t"
        input_param { shape { dim: 4 dim: 5 } shape { dim: 4 } shape { dim: 4 dim: 5 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 5 bias_term: false } }
layer { name: "emb" type: "Embed" bottom: "y" top: "emb" embed_param { num_output: 3 input_dim: 5 } }
layer { name: "sl" type: "SoftmaxWithLoss" bottom: "ip" bottom: "y" top: "sl" loss_param { ignore_label: 2 } }
layer { name: "sce" type: "SigmoidCrossEntropyLoss" bottom: "ip" bottom: "t" top: "sce" loss_weight: 0.5 }
layer { name: "hinge" type: "HingeLoss" bottom: "ip" bottom: "y" top: "hinge" hinge_loss_param { norm: L2 } }
layer { name: "sm" type: "Softmax" bottom: "ip" top: "sm" }
layer { name: "mll" type: "MultinomialLogisticLoss" bottom: "sm" bottom: "y" top: "mll" }
layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "y" top: "acc" accuracy_param { top_k: 2 } include { phase: TEST } }
layer { name: "si" type: "Silence" bottom: "emb" }
""",
    # V1 format
    """name: "v1"
input: "data"
input_shape { dim: 1 dim: 1 dim: 8 dim: 8 }
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" blobs_lr: 1 blobs_lr: 2
         weight_decay: 1 weight_decay: 0
         convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "xavier" } } }
layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
layers { name: "pool" type: POOLING bottom: "conv" top: "pool" pooling_param { pool: AVE kernel_size: 2 } }
layers { name: "ip" type: INNER_PRODUCT bottom: "pool" top: "ip" inner_product_param { num_output: 2 } }
layers { name: "prob" type: SOFTMAX bottom: "ip" top: "prob" }
""",
    # V0 format
    """name: "v0"
input: "data"
input_dim: 1 input_dim: 1 input_dim: 8 input_dim: 8
layers { layer { name: "conv" type: "conv" num_output: 2 kernelsize: 3 stride: 1
                 weight_filler { type: "gaussian" std: 0.1 } } bottom: "data" top: "conv" }
layers { layer { name: "relu" type: "relu" } bottom: "conv" top: "conv" }
layers { layer { name: "pool" type: "pool" pool: MAX kernelsize: 2 stride: 2 } bottom: "conv" top: "pool" }
layers { layer { name: "ip" type: "innerproduct" num_output: 3 } bottom: "pool" top: "ip" }
""",
    # data layers reading the fuzz folder's HDF5 lists, phases, stages, sharing
    """name: "data_phases"
state { phase: TRAIN level: 1 stage: "a" }
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "DATA/train_h5_list.txt" batch_size: 3 shuffle: true }
        include { phase: TRAIN } }
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "DATA/test_h5_list.txt" batch_size: 2 } include { phase: TEST } }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1" param { name: "shared_w" } param { name: "shared_b" }
        convolution_param { num_output: 2 kernel_size: 3 group: 1 dilation: 1 } include { min_level: 0 } }
layer { name: "c2" type: "Convolution" bottom: "data" top: "c2" param { name: "shared_w" } param { name: "shared_b" }
        convolution_param { num_output: 2 kernel_size: 3 } exclude { stage: "b" } }
layer { name: "sum" type: "Eltwise" bottom: "c1" bottom: "c2" top: "sum" }
layer { name: "ip" type: "InnerProduct" bottom: "sum" top: "ip" inner_product_param { num_output: 1 axis: 1 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "loss" propagate_down: true propagate_down: false }
""",
]

_PAPER_NETS = ["cnnd_deploy.prototxt", "srfcn_deploy.prototxt", "cnnd_train_val.prototxt",
               "srfcn_train_val.prototxt", "cnnd_joint_train_val.prototxt"]
_PAPER_SOLVERS = ["cnnd_solver.prototxt", "cnnd_joint_solver.prototxt",
                  "cnnd_nonjoint_solver.prototxt", "srfcn_solver.prototxt"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _shrink_net(text):
    """A paper net made cheap to build: small num_output, input 1x1x40x40, batch 2."""
    text = re.sub(r"num_output:\s*(\d+)", lambda m: f"num_output: {min(int(m.group(1)), 3)}",
                  text)
    text = re.sub(r"batch_size:\s*(\d+)", "batch_size: 2", text)
    text = re.sub(r"dim:\s*96", "dim: 40", text)
    return re.sub(r"dim:\s*80", "dim: 24", text)


@functools.lru_cache(maxsize=None)
def net_seeds():
    seeds = list(NET_SEEDS)
    for name in _PAPER_NETS:
        with open(os.path.join(REPO, "prototxt", name), encoding="utf-8") as f:
            seeds.append(_shrink_net(f.read()))
    return seeds


@functools.lru_cache(maxsize=None)
def solver_seeds():
    seeds = []
    for name in _PAPER_SOLVERS:
        with open(os.path.join(REPO, "prototxt", name), encoding="utf-8") as f:
            seeds.append(f.read())
    seeds.append("""net_param { name: "n" layer { name: "in" type: "Input" top: "x"
  input_param { shape { dim: 1 dim: 2 } } } }
type: "Adam" base_lr: 0.001 momentum: 0.9 momentum2: 0.999 delta: 1e-8
lr_policy: "multistep" gamma: 0.5 stepvalue: 10 stepvalue: 20 max_iter: 30
test_iter: 1 test_interval: 5 test_initialization: false
snapshot: 10 snapshot_prefix: "snap/x" snapshot_format: HDF5 random_seed: 3
solver_mode: CPU iter_size: 2 average_loss: 3 clip_gradients: 10 regularization_type: "L1"
train_state { level: 1 stage: "s" } test_state { stage: "t" } debug_info: false
""")
    seeds.append("""train_net: "a.prototxt" test_net: "b.prototxt" test_net: "c.prototxt"
test_iter: 5 test_iter: 6 solver_type: NESTEROV lr_policy: "poly" power: 0.5
base_lr: 0.1 max_iter: 100 stepsize: 10 weight_decay: 0.0005 snapshot_after_train: false
""")
    return seeds


# Words the token mutator swaps in: enum names, types, fields from Caffe 1.0 and from forks.
PROTOTXT_WORDS = [
    "layer", "layers", "name", "type", "bottom", "top", "param", "lr_mult", "decay_mult",
    "include", "exclude", "phase", "TRAIN", "TEST", "MAX", "AVE", "STOCHASTIC", "SUM", "PROD",
    "num_output", "kernel_size", "stride", "pad", "group", "axis", "dim", "shape", "blobs",
    "engine", "CUDNN", "CAFFE", "DEFAULT", "bias_term", "true", "false", "loss_weight",
    "weight_filler", "input_param", "state", "stage", "level", "SGD", "Adam", "solver_type",
    # fields of Caffe forks (SSD, PSPNet, DeepLab, BVLC branches, NVIDIA Caffe)
    "interp_param", "bn_param", "multibox_loss_param", "prior_box_param", "detection_output_param",
    "annotated_data_param", "normalize_param", "permute_param", "video_data_param",
    "zoom_factor", "moving_average_fraction", "forward_type", "backward_type", "iter_size",
    "ignore_label", "ROIPooling", "Interp", "BN", "Normalize", "Permute", "PriorBox",
] + [
    "AbsVal", "Accuracy", "ArgMax", "BNLL", "BatchNorm", "BatchReindex", "Bias", "Clip",
    "Concat", "Convolution", "Crop", "Deconvolution", "Dropout", "ELU", "Eltwise", "Embed",
    "EuclideanLoss", "Exp", "Flatten", "HDF5Data", "HingeLoss", "InnerProduct", "Input", "LRN",
    "Log", "MVN", "MultinomialLogisticLoss", "PReLU", "Parameter", "Pooling", "Power", "ReLU",
    "Reduction", "Reshape", "SPP", "Scale", "Sigmoid", "SigmoidCrossEntropyLoss", "Silence",
    "Slice", "Softmax", "SoftmaxWithLoss", "Split", "Swish", "TanH", "Threshold", "Tile"]
PROTOTXT_LINES = [
    'layer { name: "x" type: "Interp" bottom: "data" top: "x" interp_param { zoom_factor: 2 } }',
    'layer { name: "bn" type: "BN" bottom: "data" top: "bn" bn_param { moving_average_fraction: 0.9 } }',
    'layer { name: "n" type: "Normalize" bottom: "data" top: "n" norm_param { across_spatial: false } }',
    "engine: CUDNN", "forward_type: FLOAT16", "}", "{", "layer {", 'top: "data"', 'bottom: "ip"',
    'include { phase: TRAIN }', "input_dim: 0", "input_dim: -1", "force_backward: true",
    'layer { name: "u" type: "Python" python_param { module: "m" layer: "L" } }',
    "debug_info: true", 'snapshot_prefix: ""', "max_iter: -5", "base_lr: nan", "type: 7",
    "# comment { not a brace", "layer: {}", "layer <>", "name: 'single'", 'name: "\\x00"',
    'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" }',
    'layer { name: "a" type: "ReLU" bottom: "nowhere" top: "a" }',
    "clip_gradients: -1", "iter_size: 0", "test_iter: 1000000000", "stepvalue: -1",
]


# --------------------------------------------------------------------------------------------
# Caffemodel and solverstate seeds

def _caffe():
    from caffe_compat.io import caffemodel as cm
    from caffe_compat.proto import caffe_pb2
    return cm, caffe_pb2


@functools.lru_cache(maxsize=None)
def caffemodel_seeds():
    """Binary caffemodels: the seed nets with their blobs, V1 layers, double and legacy-shaped
    blobs; plus files of the wrong kind (a solverstate, a prototxt, an HDF5 signature)."""
    import torch

    from caffe_compat import Net

    cm, pb = _caffe()
    torch.manual_seed(0)
    seeds = []
    for text in NET_SEEDS[:5]:
        net = Net(text, seed=0)
        seeds.append(cm.caffemodel_bytes(net.to_proto(with_blobs=True)))
    p = pb.NetParameter(name="legacy")
    v1 = p.layers.add(name="ip", type=pb.V1LayerParameter.INNER_PRODUCT)
    v1.bottom.append("data")
    v1.top.append("ip")
    b = v1.blobs.add(num=1, channels=1, height=2, width=3)
    b.data.extend([1, 2, 3, 4, 5, 6])
    b2 = v1.blobs.add()
    b2.double_data.extend([0.5, 1.5])
    b2.shape.dim.extend([2])
    seeds.append(cm.caffemodel_bytes(p))
    q = pb.NetParameter(name="odd")
    layer = q.layer.add(name="conv", type="Convolution")
    layer.blobs.add().CopyFrom(cm.array_to_blob(np.arange(12, dtype=np.float32).reshape(3, 4)))
    layer.blobs.add().CopyFrom(cm.array_to_blob(np.float32(7.0)))             # 0-d blob
    layer.blobs.add().CopyFrom(cm.array_to_blob(np.zeros((0, 3), np.float32)))  # empty blob
    layer.blobs.add().CopyFrom(cm.array_to_blob(np.ones((2, 2)), double=True))
    q.layer.add(name="ip", type="InnerProduct").blobs.add().CopyFrom(
        cm.array_to_blob(np.ones((4, 2), np.float32)))
    seeds.append(cm.caffemodel_bytes(q))
    seeds.extend(solverstate_seeds()[:1])
    seeds.append(NET_SEEDS[0].encode())
    seeds.append(b"\x89HDF\r\n\x1a\n" + bytes(40))
    return seeds


@functools.lru_cache(maxsize=None)
def solverstate_seeds():
    cm, pb = _caffe()
    seeds = []
    for k, shapes in enumerate([[(3, 1, 3, 3), (3,), (1, 12), (1,)], [(2, 2)], [], [(0,), ()]]):
        s = pb.SolverState(iter=10 * k + 3, current_step=k,
                           learned_net=f"snap/x_iter_{10 * k + 3}.caffemodel")
        for j, shape in enumerate(shapes):
            arr = np.full(shape, 0.25 * (j + 1), np.float32)
            s.history.add().CopyFrom(cm.array_to_blob(arr))
        seeds.append(s.SerializeToString(deterministic=True))
    legacy = pb.SolverState(iter=1)
    legacy.history.add(num=1, channels=1, height=1, width=2).data.extend([1, 2])
    seeds.append(legacy.SerializeToString())
    return seeds


def protobuf_cases(seed_fn):
    return mutated(seed_fn, max_ops=4, structured=lambda d: mutate_wire(d))


# --------------------------------------------------------------------------------------------
# HDF5 files

H5_DTYPES = ["<f4", "<f8", ">f4", "<f2", "<i1", "<u1", "<i2", "<i4", "<u4", "<i8", "<u8", "?",
             "S5", "vlen_str", "c8", "compound", "enum", "ref"]


@st.composite
def h5_dataset_specs(draw, names=("data", "label")):
    """A list of entries (name, kind, options) for :func:`write_h5`: half of the time a valid
    Caffe pair (``data`` and ``label`` with equal row counts) plus random extra entries."""
    entries = []
    if draw(st.booleans()):
        rows = draw(st.sampled_from([0, 1, 2, 5, 9]))
        for name in names:
            rank = draw(st.integers(0, 3))
            opts = {"dtype": draw(st.sampled_from(["<f4", "<f4", "<f8", "<i2", "<u1"])),
                    "shape": (rows,) + tuple(draw(st.lists(st.integers(1, 4), min_size=rank,
                                                           max_size=rank))),
                    "chunks": draw(st.booleans()),
                    "compression": draw(st.sampled_from([None, None, "gzip", "lzf"])),
                    "shuffle": draw(st.booleans()), "fletcher32": draw(st.booleans()),
                    "maxshape": draw(st.booleans()), "write": True, "fill": None, "seed": 1}
            entries.append((name, "dataset", opts))
    pool = list(names) + ["extra", "grp/data", "#refs#"]
    taken = {e[0] for e in entries}
    for name in draw(st.lists(st.sampled_from(pool), max_size=4 - len(entries), unique=True)):
        if name in taken:
            continue
        kind = draw(st.sampled_from(["dataset"] * 6 + ["group", "softlink", "extlink", "empty",
                                                       "scalar", "attr_only"]))
        rank = draw(st.integers(1, 4))
        shape = tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 5, 7]) | st.integers(0, 12),
                                    min_size=rank, max_size=rank)))
        opts = {
            "dtype": draw(st.sampled_from(H5_DTYPES[:5]) | st.sampled_from(H5_DTYPES)),
            "shape": shape,
            "chunks": draw(st.booleans()),
            "compression": draw(st.sampled_from([None, None, "gzip", "lzf"])),
            "shuffle": draw(st.booleans()),
            "fletcher32": draw(st.booleans()),
            "maxshape": draw(st.booleans()),
            "write": draw(st.booleans() | st.just(True)),
            "fill": draw(st.sampled_from([None, 0, 1.5, float("nan")])),
            "seed": draw(st.integers(0, 3)),
        }
        entries.append((name, kind, opts))
    return entries


def _h5_dtype(h5py, code):
    if code == "vlen_str":
        return h5py.string_dtype()
    if code == "compound":
        return np.dtype([("a", "<f4"), ("b", "<i2")])
    if code == "enum":
        return h5py.enum_dtype({"RED": 0, "GREEN": 1}, basetype="i1")
    if code == "ref":
        return h5py.ref_dtype
    return np.dtype(code)


def write_h5(path, entries, attrs=None):
    """Write an HDF5 file from :func:`h5_dataset_specs` entries; returns the data bytes."""
    import h5py

    size = 0
    with h5py.File(path, "w") as f:
        for name, kind, o in entries:
            if kind == "group":
                f.require_group(name)
                continue
            if kind == "softlink":
                f[name] = h5py.SoftLink("/does/not/exist")
                continue
            if kind == "extlink":
                f[name] = h5py.ExternalLink("missing_file.h5", "/data")
                continue
            if kind == "attr_only":
                f.attrs[name.replace("/", "_")] = np.arange(3)
                continue
            dt = _h5_dtype(h5py, o["dtype"])
            if kind == "empty":
                f.create_dataset(name, data=h5py.Empty(dt if dt.kind in "fiu" else "f4"))
                continue
            shape = () if kind == "scalar" else o["shape"]
            kw = {}
            chunked = o["chunks"] or o["compression"] or o["shuffle"] or o["fletcher32"] or \
                o["maxshape"]
            if chunked and shape and 0 not in shape:
                kw["chunks"] = tuple(max(1, (d + 1) // 2) for d in shape)
                if o["compression"]:
                    kw["compression"] = o["compression"]
                kw["shuffle"] = o["shuffle"]
                kw["fletcher32"] = o["fletcher32"]
                if o["maxshape"]:
                    kw["maxshape"] = (None,) + tuple(shape[1:])
            if o["fill"] is not None and dt.kind in "f":
                kw["fillvalue"] = o["fill"]
            try:
                ds = f.create_dataset(name, shape=shape, dtype=dt, **kw)
            except (ValueError, TypeError):   # a filter or fill value this dtype cannot take
                ds = f.create_dataset(name, shape=shape, dtype=dt)
            count = int(np.prod(shape)) if shape else 1
            size += count * max(dt.itemsize, 1)
            if o["write"] and count:
                rng = np.random.default_rng(o["seed"])
                if dt.kind in "fc":
                    values = rng.standard_normal(shape).astype(dt)
                elif dt.kind in "iub":
                    values = rng.integers(0, 2, shape).astype(dt)
                elif o["dtype"] == "ref":
                    values = np.full(shape, f.ref, dtype=dt) if shape else f.ref
                elif o["dtype"] == "vlen_str":
                    values = np.full(shape, "ab", dtype=object) if shape else "ab"
                elif o["dtype"] == "compound":
                    values = np.zeros(shape, dtype=dt)
                else:
                    values = np.full(shape, b"xy", dtype=dt) if shape else b"xy"
                ds[...] = values
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    return size


@st.composite
def h5_files(draw, names=("data", "label"), mutate=True):
    """(entries, byte-mutation or None): a random HDF5 file, maybe damaged afterwards."""
    entries = draw(h5_dataset_specs(names))
    damage = None
    if mutate and draw(st.integers(0, 3)) == 0:
        damage = draw(st.sampled_from(["truncate", "flip", "flip", "zero"]))
        damage = (damage, draw(st.floats(0, 1)), draw(st.integers(1, 6)), draw(st.integers(0, 7)))
    return entries, damage


def h5_declared_bytes(path):
    """Bytes the datasets of an HDF5 file declare (shape x item size; 0 where unreadable).
    HDF5 files can declare more than they store (fill values, compression), and a reader that
    reads a dataset allocates what it declares: the memory bound counts this as input."""
    import h5py

    total = [0]

    def visit(name, obj):
        try:
            if isinstance(obj, h5py.Dataset) and obj.shape is not None:
                total[0] += int(np.prod(obj.shape, dtype=object)) * max(obj.dtype.itemsize, 1)
        except Exception:  # noqa: BLE001 - damaged entries
            pass

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except Exception:  # noqa: BLE001 - damaged files
        pass
    return total[0]


def damage_file(path, damage):
    """Apply a (kind, where 0..1, count, bit) damage to the file at ``path``."""
    if damage is None:
        return
    kind, where, count, bit = damage
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if not data:
        return
    pos = min(int(where * len(data)), len(data) - 1)
    if kind == "truncate":
        del data[pos:]
    elif kind == "flip":
        # mostly in the metadata at the start of the file, where damage is structural
        for k in range(count):
            p = (pos * (k + 1) * 7919) % min(len(data), 4096 if k % 2 else len(data))
            data[p] ^= 1 << bit
    elif kind == "zero":
        data[pos:pos + 64 * count] = bytes(len(data[pos:pos + 64 * count]))
    with open(path, "wb") as f:
        f.write(data)


# --------------------------------------------------------------------------------------------
# MAT files

_MAT_CLASSES = ["float64", "float32", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                "int64", "uint64", "bool", "complex128"]


@st.composite
def mat_arrays(draw):
    kind = draw(st.sampled_from(["num"] * 6 + ["char", "empty", "struct", "cell", "sparse"]))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    if kind == "num":
        cls = draw(st.sampled_from(_MAT_CLASSES))
        rng = np.random.default_rng(draw(st.integers(0, 3)))
        arr = (rng.standard_normal(shape) * 10)
        if cls == "complex128":
            return arr + 1j * arr
        return arr.astype(cls)
    if kind == "char":
        return draw(st.text(alphabet=st.characters(max_codepoint=0xFFFF,
                                                   exclude_categories=["Cs"]), max_size=8))
    if kind == "empty":
        return np.zeros((0, draw(st.integers(0, 3))))
    if kind == "struct":
        return {"a": np.arange(3.0), "b": "txt"}
    if kind == "cell":
        cell = np.empty((1, 2), dtype=object)
        cell[0, 0] = np.arange(2.0)
        cell[0, 1] = "c"
        return cell
    import scipy.sparse
    return scipy.sparse.csc_matrix(np.eye(3))


MAT_NAMES = ["bbox", "time", "gsd", "video", "valence", "x"]


@st.composite
def mat_variables(draw):
    names = draw(st.lists(st.sampled_from(MAT_NAMES), max_size=4, unique=True))
    out = {}
    for n in names:
        if draw(st.booleans()):
            # shapes the bbox/gsd readers want, or nearly
            rows = draw(st.integers(0, 6))
            cols = draw(st.sampled_from([1, 4, 4, 3, 5]))
            orient = draw(st.booleans())
            arr = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols)
            out[n] = arr.T if orient else arr
        else:
            out[n] = draw(mat_arrays())
    return out


def savemat_bytes(variables, version):
    """The bytes of ``variables`` saved by scipy (v4, v5/6 uncompressed, v7 compressed)."""
    import scipy.io
    buf = io.BytesIO()
    if version == "4":
        plain = {k: v for k, v in variables.items()
                 if isinstance(v, np.ndarray) and v.dtype.kind in "fiub" and v.ndim <= 2}
        scipy.io.savemat(buf, plain, format="4")
    else:
        scipy.io.savemat(buf, variables, format="5", do_compression=version == "7",
                         long_field_names=True)
    return buf.getvalue()


@functools.lru_cache(maxsize=None)
def mat_seeds():
    """Valid v4/v5/v7 MAT files: bbox/gsd files as AVEC writes them and assorted variables."""
    t = np.arange(5, dtype=np.float64).reshape(-1, 1) * 0.04
    bbox = np.array([[10, 12, 120, 130]] * 5, dtype=np.float64)
    seeds = []
    for version in ("5", "7", "4"):
        seeds.append(savemat_bytes({"bbox": bbox, "time": t}, version))
        seeds.append(savemat_bytes({"gsd": np.linspace(-1, 1, 5).reshape(-1, 1), "time": t},
                                   version))
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = np.arange(3.0), "abc"
    seeds.append(savemat_bytes({"s": {"a": np.eye(2), "b": "x"}, "c": cell,
                                "i": np.arange(4, dtype=np.int16), "l": np.array([True, False]),
                                "z": np.zeros((0, 3)), "time": t}, "5"))
    return seeds


@st.composite
def v73_specs(draw):
    """Entries for :func:`write_v73`: MATLAB-style datasets with random MATLAB attributes."""
    entries = []
    for name in draw(st.lists(st.sampled_from(MAT_NAMES + ["#refs#", "s"]), max_size=4,
                              unique=True)):
        kind = draw(st.sampled_from(["array"] * 4 + ["empty", "char", "struct", "cell",
                                                     "sparse", "cell_self", "cell_null",
                                                     "bad_empty", "group"]))
        cls = draw(st.sampled_from(["double", "single", "int8", "uint16", "logical", "char",
                                    "cell", "struct", "function_handle", None, "int64"]))
        shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=3)))
        dims = draw(st.lists(st.sampled_from([0, 1, 3, 2**31, 2**40, 2**63]),
                             min_size=1, max_size=3))
        entries.append((name, kind, cls, shape, dims, draw(st.sampled_from(["f8", "f4", "u2",
                                                                            "i8", "S3"]))))
    return entries


def write_v73(path, entries):
    """A v7.3 MAT file (HDF5 with a 512-byte user block) from :func:`v73_specs` entries."""
    import h5py

    size = 0
    with h5py.File(path, "w", userblock_size=512) as f:
        for entry in entries:
            try:
                size += _write_v73_entry(f, *entry)
            except (ValueError, TypeError):   # a name taken by the #refs# group of a cell
                pass
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: fuzz HDF5 schema 1.00 ."
                 .ljust(116) + bytes(8) + b"\x00\x02IM")
    return size


def _write_v73_entry(f, name, kind, cls, shape, dims, dt):
    import h5py

    size = 0
    if kind == "group":
        g = f.create_group(name)
        if cls:
            g.attrs["MATLAB_class"] = np.bytes_(cls)
        g["x"] = np.zeros((1, 1))
        return size
    if kind == "struct":
        g = f.create_group(name)
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        g["a"] = np.ones(shape or (1,), dtype=dt if dt != "S3" else "f8")
        return size
    if kind == "sparse":
        g = f.create_group(name)
        g.attrs["MATLAB_class"] = np.bytes_(cls or "double")
        g.attrs["MATLAB_sparse"] = np.uint64(dims[0] if dims[0] < 2**32 else 3)
        g["jc"] = np.array([0, 1, 2, 3][:max(1, len(shape) + 1)], dtype=np.uint64)
        if len(shape) > 1:
            g["ir"] = np.array([0, 1, 2][:len(shape)], dtype=np.uint64)
            g["data"] = np.ones(len(shape))
        return size
    if kind in ("cell", "cell_self", "cell_null"):
        refs = f.require_group("#refs#")
        target = refs.create_dataset(f"r{len(refs)}", data=np.ones((1, 2)))
        target.attrs["MATLAB_class"] = np.bytes_("double")
        ds = f.create_dataset(name, shape=(1, 2), dtype=h5py.ref_dtype)
        if kind == "cell":
            ds[0, 0] = target.ref
            ds[0, 1] = target.ref
        elif kind == "cell_self":
            ds[0, 0] = ds.ref
            ds[0, 1] = ds.ref
        ds.attrs["MATLAB_class"] = np.bytes_("cell")
        return size
    if kind == "empty":
        ds = f.create_dataset(name, data=np.array([0, 3], dtype=np.uint64))
        ds.attrs["MATLAB_empty"] = np.uint8(1)
    elif kind == "bad_empty":
        ds = f.create_dataset(name, data=np.array(dims, dtype=np.uint64))
        ds.attrs["MATLAB_empty"] = np.uint8(1)
    elif kind == "char":
        ds = f.create_dataset(name, data=np.array([[72], [105]], dtype=np.uint16))
    else:
        data = np.ones(shape, dtype=dt) if dt != "S3" else np.full(shape, b"ab")
        size += data.nbytes
        ds = f.create_dataset(name, data=data)
    if cls:
        ds.attrs["MATLAB_class"] = np.bytes_(cls)
    return size


# --------------------------------------------------------------------------------------------
# Frame-time CSV, bbox CSV, ARFF, list files

_NUM = st.sampled_from(INTERESTING_NUMBERS) | st.floats(allow_nan=True, allow_infinity=True).map(
    repr) | st.integers(-10**6, 10**6).map(str) | st.sampled_from(["", " ", "abc", "1,5", "1e",
                                                                   ".", "+", "--1", "\u0661"])


@st.composite
def delimited_text(draw, delimiters=(";", ","), header=("frameIndex;frameTime",)):
    delim = draw(st.sampled_from(list(delimiters) + ["\t", " "]))
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(list(header) + ["", "time;x;y;w;h", "# c"])))
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 6)) == 0:
            lines.append(draw(st.sampled_from(["", "   ", "#x", "\x00", ";;;;"])))
            continue
        cols = draw(st.integers(1, 7))
        lines.append(delim.join(draw(st.lists(_NUM, min_size=cols, max_size=cols))))
    end = draw(st.sampled_from(["\n", "\r\n", "\r", ""]))
    return end.join(lines) + draw(st.sampled_from(["", end]))


def frame_time_seeds():
    times = [f"{i};{i * 0.04:.2f}" for i in range(8)]
    return ["frameIndex;frameTime\n" + "\n".join(times) + "\n",
            "frameIndex;frameTime\r\n" + "\r\n".join(times),
            "\ufeffframeIndex;frameTime\n0;0\n1;0.04\n2;\n3;0.12;9\n\n4;0.16\n"]


def bbox_csv_seeds():
    rows = [f"{i * 0.04:.2f};{10 + i};{12 + i};120;130" for i in range(6)]
    return ["time;x;y;w;h\n" + "\n".join(rows) + "\n",
            "# boxes\n" + "\n".join(r.replace(";", ",") for r in rows),
            "0;0;0;0;0\n0.04;1;1;150;150\n"]


def arff_seeds():
    rows = [f"dev_1,{i * 0.04:.2f},{0.01 * i:.3f}" for i in range(6)]
    return [
        "@relation GOLDSTANDARD\n\n@attribute Instance_name string\n@attribute frameTime "
        "numeric\n@attribute GoldStandard numeric\n\n\n@data\n\n" + "\n".join(rows) + "\n",
        "% comment\n@RELATION 'quoted rel'\n@ATTRIBUTE 'frame Time' REAL\n@attribute frameTime "
        "numeric\n@attribute c {a,'b c',\"d\"}\n@attribute gs numeric\n@attribute d date "
        "\"yyyy-MM-dd\"\n@DATA\n1,2,a,?,'2016-01-01'\n3,4,'b c',5,?  % trailing\n",
    ]


ARFF_WORDS = ["@relation", "@attribute", "@data", "numeric", "real", "integer", "string", "date",
              "relational", "@end", "frameTime", "GoldStandard", "?", "{", "}", "'", '"']
ARFF_LINES = ["@attribute x numeric", "@attribute {a} numeric", "@relation {r}", "@data",
              "{0 1, 2 3}", "@attribute r relational", "@end r", "@attribute x {}",
              "@attribute y {a,b", "1,2,3,4,5,6", "'unterminated", "@attribute frameTime string",
              "@attribute 'q\\'x' numeric", "@attribute x date 'bad", "?,?,?", "a,b,{c}"]


@st.composite
def arff_grammar(draw):
    lines = [draw(st.sampled_from(["@relation r", "@RELATION 'x y'", "@relation", ""]))]
    attrs = []
    for i in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(["frameTime", "GoldStandard", "Instance_name", f"a{i}",
                                     "'q x'", "{b}", "a0"]))
        kind = draw(st.sampled_from(["numeric", "REAL", "integer", "string", "date",
                                     "{u,v}", "{}", "relational", "numeric extra", ""]))
        lines.append(f"@attribute {name} {kind}")
        attrs.append(kind)
    lines.append(draw(st.sampled_from(["@data", "@DATA", "@data x", ""])))
    for _ in range(draw(st.integers(0, 5))):
        n = draw(st.integers(0, len(attrs) + 1))
        vals = draw(st.lists(_NUM | st.sampled_from(["?", "'s,t'", "u", "v", "\"w\"", "{1 2}"]),
                             min_size=n, max_size=n))
        lines.append(",".join(vals) + draw(st.sampled_from(["", " % c", "%"])))
    return "\n".join(lines) + "\n"


@st.composite
def list_file_text(draw, existing):
    """A Caffe HDF5 source list naming some of ``existing`` (names relative to the list's
    folder or absolute), missing files, odd whitespace and bytes."""
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["rel", "rel", "abs", "missing", "blank", "nasty", "two"]))
        if kind == "rel":
            lines.append(os.path.basename(draw(st.sampled_from(existing))))
        elif kind == "abs":
            lines.append(draw(st.sampled_from(existing)))
        elif kind == "missing":
            lines.append(draw(st.sampled_from(["nope.h5", "/nonexistent/x.h5", "../x.h5", "."])))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "  ", "\t", "\x0b", "\x0c"])))
        elif kind == "two":
            a, b = (os.path.basename(draw(st.sampled_from(existing))) for _ in range(2))
            lines.append(a + draw(st.sampled_from([" ", "\t", "\xa0", "\u2028", "\x1c"])) + b)
        else:
            lines.append(draw(st.sampled_from(NASTY_TEXT)) +
                         os.path.basename(draw(st.sampled_from(existing))))
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines) + draw(
        st.sampled_from(["", "\n"]))


def pack_floats(values):
    return struct.pack(f"<{len(values)}f", *values)


# Structured nets: a random Input and a chain of random layers with random parameters.
_V = [0, 1, 2, 3]
LAYER_PARAMS = {
    "Convolution": ("convolution_param", {"num_output": _V, "kernel_size": [0, 1, 2, 3, 5],
                                          "stride": [0, 1, 2], "pad": [0, 1, 3],
                                          "group": [1, 2, 3], "dilation": [1, 2],
                                          "kernel_h": [1, 2], "kernel_w": [1, 3],
                                          "axis": [-1, 0, 1, 2], "bias_term": ["false", "true"],
                                          "weight_filler": ['{ type: "msra" }',
                                                            '{ type: "bilinear" }',
                                                            '{ type: "uniform" min: 1 max: 0 }',
                                                            '{ type: "positive_unitball" }',
                                                            '{ type: "gaussian" sparse: 2 }',
                                                            '{ type: "nope" }']}),
    "Deconvolution": ("convolution_param", {"num_output": _V, "kernel_size": [1, 2, 3],
                                            "stride": [1, 2, 3], "pad": [0, 1],
                                            "group": [1, 2]}),
    "Pooling": ("pooling_param", {"pool": ["MAX", "AVE", "STOCHASTIC"],
                                  "kernel_size": [0, 1, 2, 3, 9], "stride": [0, 1, 2, 3],
                                  "pad": [0, 1, 2], "global_pooling": ["true", "false"],
                                  "kernel_h": [1, 2], "kernel_w": [1, 2]}),
    "InnerProduct": ("inner_product_param", {"num_output": _V, "axis": [-1, 0, 1, 2, 5],
                                             "transpose": ["true", "false"],
                                             "bias_term": ["true", "false"]}),
    "Eltwise": ("eltwise_param", {"operation": ["PROD", "SUM", "MAX"], "coeff": [-1, 0, 2],
                                  "stable_prod_grad": ["false"]}),
    "Concat": ("concat_param", {"axis": [-5, -1, 0, 1, 3, 4], "concat_dim": [0, 1]}),
    "Slice": ("slice_param", {"axis": [-1, 0, 1, 2], "slice_point": [0, 1, 2, 5],
                              "slice_dim": [1]}),
    "Reshape": ("reshape_param", {"shape": ["{ dim: 0 dim: -1 }", "{ dim: -1 dim: -1 }",
                                            "{ dim: 3 }", "{ }", "{ dim: 0 dim: 0 dim: 0 }"],
                                  "axis": [-1, 0, 1, 7], "num_axes": [-1, 0, 1, 2]}),
    "Crop": ("crop_param", {"axis": [-1, 0, 1, 2, 4], "offset": [0, 1, 2, 100]}),
    "Tile": ("tile_param", {"axis": [-1, 0, 1, 4], "tiles": [0, 1, 2]}),
    "Reduction": ("reduction_param", {"operation": ["SUM", "ASUM", "SUMSQ", "MEAN"],
                                      "axis": [-1, 0, 1, 3], "coeff": [0, 2]}),
    "ArgMax": ("argmax_param", {"top_k": [0, 1, 2, 1000], "out_max_val": ["true", "false"],
                                "axis": [-1, 0, 1, 3]}),
    "Softmax": ("softmax_param", {"axis": [-1, 0, 1, 4]}),
    "LRN": ("lrn_param", {"local_size": [0, 1, 2, 3, 5], "alpha": [0, 1], "beta": [0.75, -1],
                          "norm_region": ["ACROSS_CHANNELS", "WITHIN_CHANNEL"], "k": [0, 1]}),
    "MVN": ("mvn_param", {"normalize_variance": ["true", "false"],
                          "across_channels": ["true", "false"], "eps": [0, 1e-9]}),
    "BatchNorm": ("batch_norm_param", {"use_global_stats": ["true", "false"], "eps": [0, -1],
                                       "moving_average_fraction": [0, 1, 2]}),
    "Scale": ("scale_param", {"axis": [-1, 0, 1, 2], "num_axes": [-1, 0, 1, 2, 5],
                              "bias_term": ["true", "false"]}),
    "Bias": ("bias_param", {"axis": [-1, 0, 1, 2], "num_axes": [-1, 0, 1, 2, 5]}),
    "PReLU": ("prelu_param", {"channel_shared": ["true", "false"]}),
    "Power": ("power_param", {"power": [-1, 0, 0.5, 2], "scale": [0, -1], "shift": [0, 1]}),
    "Exp": ("exp_param", {"base": [-1, 0, 1, 2], "scale": [0, 1], "shift": [0, 1]}),
    "Log": ("log_param", {"base": [-1, 0, 1, 2], "scale": [0, 1], "shift": [0, 1]}),
    "Threshold": ("threshold_param", {"threshold": [-1, 0, 1]}),
    "ELU": ("elu_param", {"alpha": [-1, 0, 1]}),
    "Clip": ("clip_param", {"min": [0, 1], "max": [-1, 0, 1]}),
    "Dropout": ("dropout_param", {"dropout_ratio": [-0.5, 0, 0.5, 1, 2]}),
    "SPP": ("spp_param", {"pyramid_height": [0, 1, 2, 5], "pool": ["MAX", "AVE"]}),
    "Embed": ("embed_param", {"num_output": _V, "input_dim": [0, 1, 5],
                              "bias_term": ["true", "false"]}),
    "Flatten": ("flatten_param", {"axis": [-1, 0, 1, 3], "end_axis": [-1, 0, 2]}),
    "Parameter": ("parameter_param", {"shape": ["{ dim: 2 dim: 3 }", "{ }", "{ dim: 0 }"]}),
    "Accuracy": ("accuracy_param", {"top_k": [0, 1, 2, 100], "axis": [-1, 0, 1],
                                    "ignore_label": [0, 1]}),
    "SoftmaxWithLoss": ("loss_param", {"ignore_label": [0, 1, -1],
                                       "normalization": ["FULL", "VALID", "BATCH_SIZE",
                                                         "NONE"],
                                       "normalize": ["true", "false"]}),
    "HingeLoss": ("hinge_loss_param", {"norm": ["L1", "L2"]}),
    "Swish": ("swish_param", {"beta": [0, 1, -1]}),
    "ReLU": ("relu_param", {"negative_slope": [0, 0.1]}),
}
_TWO_BOTTOMS = {"EuclideanLoss", "SoftmaxWithLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
                "MultinomialLogisticLoss", "Accuracy", "Eltwise", "Concat", "Crop",
                "BatchReindex"}


@st.composite
def net_grammar(draw):
    """Text of a random net: Input blobs of random small shapes, then random layers."""
    from caffe_compat.layers.registry import registered_types

    types = [t for t in registered_types() if t not in ("HDF5Data", "Input")]
    blobs = []
    shapes = []
    for i in range(draw(st.integers(1, 2))):
        rank = draw(st.integers(0, 4))
        dims = draw(st.lists(st.integers(0, 6), min_size=rank, max_size=rank))
        shapes.append("shape { " + " ".join(f"dim: {d}" for d in dims) + " }")
        blobs.append(f"in{i}")
    lines = ['name: "g"', 'layer { name: "input" type: "Input" '
             + " ".join(f'top: "{b}"' for b in blobs)
             + " input_param { " + " ".join(shapes) + " } }"]
    for k in range(draw(st.integers(1, 5))):
        t = draw(st.sampled_from(types))
        nb = 2 if t in _TWO_BOTTOMS else draw(st.sampled_from([1, 1, 1, 0, 2]))
        bottoms = [draw(st.sampled_from(blobs)) for _ in range(nb)]
        top = draw(st.sampled_from([f"b{k}", f"b{k}", bottoms[0] if bottoms else f"b{k}"]))
        ntops = draw(st.sampled_from([1, 1, 1, 2, 0]))
        tops = [top] + [f"b{k}_{j}" for j in range(1, ntops)] if ntops else []
        body = [f'name: "l{k}"', f'type: "{t}"'] + [f'bottom: "{b}"' for b in bottoms] + \
            [f'top: "{x}"' for x in tops]
        if t in LAYER_PARAMS:
            group, menu = LAYER_PARAMS[t]
            chosen = draw(st.lists(st.sampled_from(sorted(menu)), max_size=4, unique=True))
            fields = [f"{name}: {draw(st.sampled_from(menu[name]))}" for name in chosen]
            body.append(group + " { " + " ".join(fields) + " }")
        if draw(st.integers(0, 5)) == 0:
            body.append(draw(st.sampled_from(["loss_weight: 2", "propagate_down: false",
                                              "param { lr_mult: 0 }",
                                              'param { name: "shared" }',
                                              "include { phase: TEST }",
                                              "exclude { phase: TRAIN }"])))
        lines.append("layer { " + " ".join(body) + " }")
        blobs.extend(tops)
    return "\n".join(lines) + "\n"
