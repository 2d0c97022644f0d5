"""Caffe's Blob::Reshape keeps a blob's memory while its count fits the capacity: what a
program reads after a reshape (and what a partial backward adds from a Split top's stale diff,
as google/deepdream's later calls do) is real pycaffe 1.0's, on both engines
(tests/pycaffe/fixtures/reshape_memory/: the program and what real pycaffe printed)."""
import json

import pytest

import caffe
from tests.conftest import REPO
from tests.pycaffe.fixtures.reshape_memory.reshape_program import run

FIXTURE = REPO / "tests" / "pycaffe" / "fixtures" / "reshape_memory" / "reshape_memory.json"


@pytest.mark.parametrize("array_engine", ["1", "0"])
def test_reshape_keeps_caffes_memory(monkeypatch, array_engine):
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", array_engine)
    expected = json.loads(FIXTURE.read_text())
    assert run(caffe) == expected          # small integers: exact in float32
