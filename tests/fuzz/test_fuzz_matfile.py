"""Fuzz: MAT-files through ``matlab_ports.matfile.loadmat`` and the AVEC bbox / gsd readers.

v4 / v5 / v7 (compressed) files: valid seeds and random variables saved by scipy, then
byte-mutated (truncated, flipped, absurd sizes in the tags). v7.3 files: HDF5 written with
random MATLAB attributes (wrong ``MATLAB_class``, ``MATLAB_empty`` with absurd dimensions,
cells referencing themselves or nothing, sparse groups missing parts), some then damaged.
Every case ends in a dict of arrays / (bbox, time) / (gsd, time), or in ``PortError`` naming
the file.
"""
import os

import numpy as np
import pytest
from hypothesis import strategies as st

from matlab_ports.avec import read_bbox_mat, read_gsd_mat
from matlab_ports.errors import PortError
from matlab_ports.matfile import loadmat
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign


def _read_all(path, campaign):
    """loadmat and both AVEC readers, each ending in a result or a PortError."""
    for reader in (loadmat, read_bbox_mat, read_gsd_mat):
        try:
            out = reader(path)
        except PortError as exc:
            campaign.check_message(exc)
            continue
        if reader is loadmat:
            assert isinstance(out, dict)
        elif reader is read_bbox_mat:
            bbox, time = out
            assert bbox.dtype == np.float64 and bbox.ndim == 2 and bbox.shape[1] == 4
            assert time.dtype == np.float64 and time.shape == (bbox.shape[0],)
        else:
            gsd, time = out
            assert gsd.dtype == np.float64 and gsd.shape == time.shape and gsd.ndim == 1


def test_fuzz_mat_v5(tmp_path):
    path = str(tmp_path / "fuzz.mat")
    campaign = Campaign("mat", "mat: v4/v5/v7 bytes", PortError, names=[path], share=0.6)

    @st.composite
    def cases(draw):
        if draw(st.booleans()):
            data = draw(S.mutated(S.mat_seeds, max_ops=4))
        else:
            data = S.savemat_bytes(draw(S.mat_variables()), draw(st.sampled_from(["4", "5",
                                                                                  "7"])))
            if draw(st.booleans()):
                data = draw(S.mutate_bytes(data, max_ops=3))
        return data

    def body(data):
        with open(path, "wb") as f:
            f.write(data)
        _read_all(path, campaign)
        return len(data)

    campaign.run(cases(), body)


# 18 s on 2 cores: in the slow pass, which CI runs too (the default suite's 10 minutes)
@pytest.mark.slow
def test_fuzz_mat_v73(tmp_path):
    path = str(tmp_path / "fuzz73.mat")
    campaign = Campaign("mat", "mat: v7.3 (HDF5)", PortError, names=[path], share=0.5)
    cases = st.tuples(S.v73_specs(), st.none() | st.tuples(
        st.sampled_from(["truncate", "flip", "zero"]), st.floats(0, 1), st.integers(1, 4),
        st.integers(0, 7)))

    def body(case):
        entries, damage = case
        S.write_v73(path, entries)
        S.damage_file(path, damage)
        size = S.h5_declared_bytes(path) + os.path.getsize(path)   # see test_fuzz_hdf5
        _read_all(path, campaign)
        return size

    campaign.run(cases, body)


def test_valid_files_are_not_refused(tmp_path):
    """The element check before scipy must not refuse what MATLAB / scipy write: every seed
    and random variables (numeric, complex, logical, char, struct, cell, sparse, empty) in
    v4, v6 and compressed v7 files load."""
    from hypothesis import given, settings
    from tests.fuzz.harness import PROFILE_NAME
    path = str(tmp_path / "valid.mat")
    for i, data in enumerate(S.mat_seeds()):
        with open(path, "wb") as f:
            f.write(data)
        loadmat(path)

    @settings(settings.get_profile(PROFILE_NAME), max_examples=300)
    @given(S.mat_variables(), st.sampled_from(["4", "5", "7"]))
    def check(variables, version):
        data = S.savemat_bytes(variables, version)
        if not data:                 # a v4 file of no variables is an empty file: refused
            return
        with open(path, "wb") as f:
            f.write(data)
        out = loadmat(path)
        if version != "4":
            assert set(out) == set(variables)

    check()
