"""Fuzz: prototxt text (nets and solvers), through the parser and on to a built ``Net``.

Every case ends in a NetParameter / SolverParameter (and, for nets, a built Net) or in a
``CaffeCompatError`` (PrototxtError with file:line:column, NetError / DataError naming the
layer). Nets are built with the per-blob element limit lowered to 2**22 (16 MiB of float32) so
that a mutated ``num_output: 2147483647`` is refused instead of allocating gigabytes; the
production limit is Caffe's INT_MAX.
"""
import os
import re

import h5py
import numpy as np
import pytest
from hypothesis import strategies as st

from caffe_compat import Net
from caffe_compat.errors import CaffeCompatError
from caffe_compat.io.prototxt import parse_net, parse_solver, read_net, read_solver
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign

FUZZ_BLOB_LIMIT = 2**22


def make_data_folder(folder):
    """DATA/*.txt lists with tiny HDF5 files for the train_val seeds' HDF5Data layers."""
    data = os.path.join(folder, "DATA")
    os.makedirs(data, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, dshape, lshape in (("train", (6, 1, 40, 40), (6, 1)),
                                 ("test", (4, 1, 40, 40), (4, 1)),
                                 ("sr_train", (4, 1, 40, 40), (4, 1, 24, 24)),
                                 ("sr_test", (2, 1, 40, 40), (2, 1, 24, 24))):
        path = os.path.join(data, f"{name}.h5")
        with h5py.File(path, "w") as f:
            f["data"] = rng.random(dshape, dtype=np.float32)
            f["label"] = rng.random(lshape, dtype=np.float32)
        with open(os.path.join(data, f"{name}_h5_list.txt"), "w") as f:
            f.write(f"DATA/{name}.h5\n")
    return folder


@pytest.fixture
def fuzz_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(make_data_folder(str(tmp_path)))
    # fuzzed sizes must not allocate gigabytes: lower the per-blob limit for this test
    import caffe_compat.layers.base as layer_base
    monkeypatch.setattr(layer_base, "MAX_BLOB_COUNT", FUZZ_BLOB_LIMIT)
    return str(tmp_path)


def test_seed_nets_build(fuzz_dir):
    """The seeds are valid: mutations start from nets that build."""
    for i, text in enumerate(S.net_seeds()):
        for phase in ("train", "test"):
            Net(parse_net(text, f"seed{i}"), phase=phase)


def test_fuzz_net_prototxt(fuzz_dir):
    path = os.path.join(fuzz_dir, "fuzz_net.prototxt")
    campaign = Campaign("prototxt", "prototxt: net -> Net", CaffeCompatError,
                        names=[path, "<fuzz>", "layer", "net", "blob", "input", "phase"],
                        share=0.7)
    cases = st.tuples(S.text_cases(S.net_seeds, S.PROTOTXT_WORDS, S.PROTOTXT_LINES,
                                   grammar=S.net_grammar()),
                      st.sampled_from(["train", "test"]), st.booleans(), st.booleans())

    outcomes = campaign.stats["outcomes"]

    def body(case):
        data, phase, allow_unknown, from_file = case
        source = path if from_file else "<fuzz>"
        if from_file:
            with open(path, "wb") as f:
                f.write(data)
        # the text as the parser sees it: a syntax error here is the parser's (file:line:col)
        try:
            if from_file:
                read_net(path, allow_unknown_fields=allow_unknown, upgrade=False)
            else:
                parse_net(data, source, allow_unknown_fields=allow_unknown, upgrade=False)
        except CaffeCompatError as exc:
            _assert_names_the_line(exc, source)
            outcomes["(syntax error with file:line)"] += 1
            raise
        # it parses: every error from here on (upgrade, graph, layer set-up, data sources) is
        # semantic and must name the line as well
        try:
            if from_file:
                net_param = read_net(path, allow_unknown_fields=allow_unknown)
            else:
                net_param = parse_net(data, source, allow_unknown_fields=allow_unknown)
            net = Net(net_param, phase=phase)
        except CaffeCompatError as exc:
            _assert_names_the_line(exc, source)
            outcomes["(semantic error with file:line)"] += 1
            raise
        for name, blob in net.blobs.items():
            assert all(d >= 0 for d in blob.shape), (name, blob.shape)
        return len(data)

    campaign.run(cases, body)
    # the campaign reaches both kinds of error (a guard against a fuzzer that stops mutating)
    assert outcomes["(semantic error with file:line)"] >= 100, dict(outcomes)
    assert outcomes["(syntax error with file:line)"] >= 100, dict(outcomes)


def _assert_names_the_line(exc, source):
    """Every error of reading or building a net from text names ``source:line``."""
    assert re.search(re.escape(source) + r":\d+", str(exc)), (
        f"{type(exc).__name__} without {source}:line: {str(exc)[:400]}")


def test_fuzz_solver_prototxt(fuzz_dir):
    path = os.path.join(fuzz_dir, "fuzz_solver.prototxt")
    campaign = Campaign("prototxt", "prototxt: solver", CaffeCompatError,
                        names=[path, "<fuzz>"], share=0.4)
    cases = st.tuples(S.text_cases(S.solver_seeds, S.PROTOTXT_WORDS, S.PROTOTXT_LINES),
                      st.booleans(), st.booleans())

    def body(case):
        data, allow_unknown, from_file = case
        if from_file:
            with open(path, "wb") as f:
                f.write(data)
            read_solver(path, allow_unknown_fields=allow_unknown)
        else:
            parse_solver(data, "<fuzz>", allow_unknown_fields=allow_unknown)
        return len(data)

    campaign.run(cases, body)


@pytest.mark.parametrize("name", ["type", "eval", "to", "forward", "keys", "pop", "training",
                                  "_modules", "state_dict"])
def test_layer_named_like_a_module_attribute(name, fuzz_dir):
    """Found by the nightly fuzz: a layer named "type" made torch's ModuleDict raise KeyError."""
    import torch
    net = Net(f'layer {{ name: "{name}" type: "Input" top: "x" '
              f'input_param {{ shape {{ dim: 1 dim: 2 }} }} }}\n'
              f'layer {{ name: "r" type: "ReLU" bottom: "x" top: "y" }}')
    assert net.forward(x=-torch.ones(1, 2))["y"].sum() == 0


@pytest.mark.parametrize("layer", [
    'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
    'inner_product_param { num_output: 2000000000 } }',
    'layer { name: "c" type: "Convolution" bottom: "x" top: "y" '
    'convolution_param { num_output: 4 kernel_size: 3000000 } }'])
def test_absurd_parameter_blob_is_refused_before_allocating(layer):
    """Caffe's INT_MAX elements per blob, checked before allocating (24 GB / 432 TB here)."""
    from caffe_compat.errors import NetError
    from tests.fuzz.harness import peak_rss_growth
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 '
            'dim: 8 dim: 8 } } }\n' + layer)
    with peak_rss_growth() as mem:
        with pytest.raises(NetError, match="Caffe allows at most 2147483647"):
            Net(text)
    assert mem["growth"] < 32 * 2**20


def test_top_blob_over_int_max_is_refused():
    from caffe_compat.errors import NetError
    with pytest.raises(NetError, match="more than 2147483647 elements"):
        Net('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 100000 '
            'dim: 100000 dim: 100000 } } }')
