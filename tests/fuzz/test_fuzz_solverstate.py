"""Fuzz: solverstate bytes (like caffemodels: truncation, bit flips, wire-level edits), and the
``.solverstate.datapos.json`` sidecar a resume reads (structurally mutated JSON with a valid
checksum, broken JSON, absurd nesting), restored into a real solver that then takes a step.

Every case ends in a SolverState with history arrays of their shape / a restored solver that
can step, or in a ``CaffeCompatError`` naming the file.
"""
import copy
import hashlib
import json

import numpy as np
import pytest
from hypothesis import strategies as st

from caffe_compat.errors import CaffeCompatError, WeightsError
from caffe_compat.io.caffemodel import blob_shape
from caffe_compat.io.solverstate import history_arrays, parse_solverstate, read_solverstate
from caffe_compat.proto import caffe_pb2
from caffe_compat.solvers import get_solver
from caffe_compat.diagnostics.glog import SolverLog
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign, peak_rss_growth
from tests.small_training import make_small


def test_fuzz_solverstate(tmp_path):
    path = str(tmp_path / "fuzz.solverstate")
    campaign = Campaign("solverstate", "solverstate bytes", CaffeCompatError,
                        names=[path, "<fuzz>"], share=1.0)
    cases = st.tuples(S.protobuf_cases(S.solverstate_seeds), st.booleans())

    def body(case):
        data, from_file = case
        if from_file:
            with open(path, "wb") as f:
                f.write(data)
            state = read_solverstate(path)
        else:
            state = parse_solverstate(data, "<fuzz>")
        arrays = history_arrays(state, path if from_file else "<fuzz>")
        for arr, blob in zip(arrays, state.history):
            assert arr.shape == blob_shape(blob)
        assert isinstance(state.learned_net, str)
        return len(data)

    campaign.run(cases, body)


def test_history_blob_claiming_more_than_the_file(tmp_path):
    state = caffe_pb2.SolverState(iter=1)
    blob = state.history.add()
    blob.shape.dim.extend([2**20, 2**20])
    blob.data.extend([0.5, 0.25])
    path = tmp_path / "liar.solverstate"
    path.write_bytes(state.SerializeToString())
    with peak_rss_growth() as mem:
        with pytest.raises(WeightsError, match=r"liar\.solverstate: history blob 0"):
            history_arrays(read_solverstate(str(path)), str(path))
    assert mem["growth"] < 32 * 2**20


# --------------------------------------------------------------------------------------------
# The data-position sidecar

JUNK = [None, [], {}, "", "x", 0, -1, 1, 2**31, 2**64, 1.5, float("inf"), True, "AAAA",
        [0, 0, 0], {"a": 1}, list(range(50)), "%%%"]


def _paths(doc, prefix=()):
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(doc, list) and len(doc) <= 64:
        for i, v in enumerate(doc):
            out.extend(_paths(v, prefix + (i,)))
    return out


@st.composite
def sidecar_docs(draw, valid_doc, state_bytes):
    mode = draw(st.sampled_from(["tree", "tree", "tree", "text", "deep", "stale", "same"]))
    if mode == "deep":
        depth = draw(st.sampled_from([100, 5000, 200000]))
        return ("[" * depth + "]" * depth).encode()
    doc = copy.deepcopy(valid_doc)
    if mode == "tree":
        for _ in range(draw(st.integers(1, 3))):
            paths = [p for p in _paths(doc) if p]
            if not paths:
                break
            path = paths[draw(st.integers(0, len(paths) - 1))]
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            key = path[-1]
            op = draw(st.sampled_from(["junk", "junk", "delete", "int", "shrink"]))
            if op == "delete":
                if isinstance(parent, dict):
                    del parent[key]
                else:
                    parent.pop(key)
            elif op == "int" and isinstance(parent[key], int) and not isinstance(
                    parent[key], bool):
                parent[key] = parent[key] + draw(st.sampled_from([-10**6, -2, -1, 1, 2, 10**6]))
            elif op == "shrink" and isinstance(parent[key], (list, str)):
                parent[key] = parent[key][:draw(st.integers(0, max(len(parent[key]) - 1, 0)))]
            else:
                parent[key] = copy.deepcopy(draw(st.sampled_from(JUNK)))
        doc["solverstate_sha256"] = hashlib.sha256(state_bytes).hexdigest()
    elif mode == "stale":
        doc["solverstate_sha256"] = "0" * 64
    text = json.dumps(doc).encode()
    if mode == "text":
        text = draw(S.mutate_bytes(text, max_ops=3))
    return text


def test_fuzz_datapos_sidecar(tmp_path, monkeypatch):
    monkeypatch.chdir(make_small(tmp_path, prefix="run"))
    solver = get_solver("solver.prototxt", log=SolverLog(keep=False))
    solver.step(3)
    _, state_path = solver.snapshot()
    sidecar = state_path + ".datapos.json"
    with open(sidecar, "rb") as f:
        valid = json.load(f)
    with open(state_path, "rb") as f:
        state_bytes = f.read()
    solver = get_solver("solver.prototxt", log=SolverLog(keep=False))
    campaign = Campaign("sidecar", "solverstate: datapos sidecar", CaffeCompatError,
                        names=[sidecar, state_path, "HDF5", ".h5"], share=1.0)

    def body(data):
        with open(sidecar, "wb") as f:
            f.write(data)
        solver.restore(state_path)
        solver.step(1)           # a restored position must also be readable
        assert np.isfinite(float(solver.net.blobs["loss"].data))
        return len(data)

    campaign.run(sidecar_docs(valid, state_bytes), body)
