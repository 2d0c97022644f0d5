"""Fuzz: HDF5 files as Caffe's HDF5Data layer reads them (``HDF5Source``, through a list file)
and as MATLAB's ``h5read`` / ``h5size`` ports read them.

Files are written for real with random datasets: missing or extra datasets, groups and
dangling links where a dataset belongs, every dtype (float16/32/64, ints, bool, strings,
compound, enum, references, complex), empty and scalar dataspaces, zero-length axes,
contiguous / chunked / gzip / lzf / shuffle / fletcher32 layouts, unwritten (fill-value) data;
a quarter of them are then damaged (truncated, bit-flipped, zeroed), as on a half-copied drive.
Every case ends in float32 batches of the right shape / a numpy array, or in ``DataError``
(caffe_compat) / ``PortError`` (matlab_ports) naming the file.
"""
import os

import numpy as np
import pytest
from hypothesis import strategies as st

from caffe_compat.data.hdf5 import HDF5Source
from caffe_compat.errors import CaffeCompatError
from matlab_ports.errors import PortError
from matlab_ports.hdf5 import h5read, h5size
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign


def _write_files(folder, files):
    """Write (and damage) the files; returns their paths and the input size for the memory
    bound: file sizes plus what the datasets declare (a reader allocates a dataset's declared
    size, and Caffe's row permutation of a shuffled source 8 bytes per declared row)."""
    paths, size = [], 0
    for i, (entries, damage) in enumerate(files):
        path = os.path.join(folder, f"f{i}.h5")
        S.write_h5(path, entries)
        S.damage_file(path, damage)
        size += os.path.getsize(path) + 2 * S.h5_declared_bytes(path)
        paths.append(path)
    return paths, size


# 18 s on 2 cores: in the slow pass, which CI runs too (the default suite's 10 minutes)
@pytest.mark.slow
def test_fuzz_hdf5_source(tmp_path):
    folder = str(tmp_path)
    list_path = os.path.join(folder, "list.txt")
    campaign = Campaign("hdf5", "hdf5: HDF5Source (Caffe)", CaffeCompatError,
                        names=[folder], share=0.6)
    cases = st.tuples(st.lists(S.h5_files(), min_size=1, max_size=3),
                      st.sampled_from([["data", "label"], ["data"], ["label", "data"]]),
                      st.integers(1, 7), st.booleans(), st.integers(1, 4),
                      st.lists(st.integers(0, 3), min_size=1, max_size=4))

    def body(case):
        files, tops, batch, shuffle, nbatches, order = case
        paths, size = _write_files(folder, files)
        with open(list_path, "w") as f:
            f.write("\n".join(os.path.basename(paths[i % len(paths)]) if i < 3 else "gone.h5"
                              for i in order) + "\n")
        src = HDF5Source(list_path, tops, batch, shuffle=shuffle)
        try:
            for _ in range(nbatches):
                out = src.next_batch()
                assert len(out) == len(tops)
                for arr, row_shape in zip(out, src.row_shapes):
                    assert arr.dtype == np.float32 and arr.shape == (batch,) + row_shape
            src.load_state_dict(src.state_dict())
        finally:
            src.close()
        return size

    campaign.run(cases, body)


def test_fuzz_matlab_h5read(tmp_path):
    path = str(tmp_path / "m.h5")
    campaign = Campaign("hdf5", "hdf5: h5read/h5size (MATLAB)", PortError, names=[path],
                        share=0.5)
    names = st.sampled_from(["data", "label", "/data", "grp/data", "grp", "/", "nope", "extra"])
    cases = st.tuples(S.h5_files(), st.lists(names, min_size=1, max_size=3),
                      st.lists(st.integers(-1, 4), max_size=4),
                      st.lists(st.integers(-1, 4), max_size=4))

    def body(case):
        (entries, damage), which, start, count = case
        S.write_h5(path, entries)
        S.damage_file(path, damage)
        size = S.h5_declared_bytes(path)
        for name in which:       # each name on its own: one missing name does not end it
            try:
                dims = h5size(path, name)
                assert isinstance(dims, list) and all(isinstance(d, int) for d in dims)
                arr = h5read(path, name)
                assert isinstance(arr, np.ndarray)   # object arrays for strings / references
                if start or count:
                    part = h5read(path, name, start=start, count=count)
                    assert isinstance(part, np.ndarray)
            except PortError as exc:
                campaign.check_message(exc)
        return size + os.path.getsize(path)

    campaign.run(cases, body)
