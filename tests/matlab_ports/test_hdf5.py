"""HDF5 layout written the way MATLAB's h5create/h5write and store2hdf5 write it."""
import math
import os

import h5py
import numpy as np
import pytest

from matlab_ports import MatlabH5Writer, PortError, h5read, h5size, store2hdf5
from matlab_ports.errors import PortFileError


def batch(rng, dims, k):
    return rng.random(tuple(dims) + (k,))


def test_writer_layout(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "train.h5"
    w_, h_, c_, d_ = 5, 4, 2, 3
    chunks = []
    with MatlabH5Writer(path, {"data": (w_, h_, c_), "label": (d_,)}, chunksz=8) as w:
        for _ in range(3):
            data, label = batch(rng, (w_, h_, c_), 8), batch(rng, (d_,), 8)
            chunks.append((data, label))
            w.append(data=data, label=label)
    data = np.concatenate([c[0] for c in chunks], axis=-1)
    label = np.concatenate([c[1] for c in chunks], axis=-1)
    with h5py.File(path, "r") as f:
        ds, ls = f["data"], f["label"]
        assert ds.shape == (24, c_, h_, w_) and ls.shape == (24, d_)
        assert ds.dtype == np.dtype("<f4") and ls.dtype == np.dtype("<f4")
        assert ds.chunks == (8, c_, h_, w_) and ls.chunks == (8, d_)
        assert ds.maxshape == (None, c_, h_, w_) and ls.maxshape == (None, d_)
        assert ds.fillvalue == 0 and ls.fillvalue == 0
        assert ds.id.get_create_plist().fill_value_defined() == h5py.h5d.FILL_VALUE_USER_DEFINED
        assert ds.compression is None and not ds.shuffle and not ds.fletcher32
        assert ds.id.get_create_plist().get_nfilters() == 0
        h5 = ds[()]
        lab = ls[()]
    # Tolerance: none; values are stored as single, compared with single(data).
    for (n, c, i, j) in [(0, 0, 0, 0), (5, 1, 3, 4), (23, 0, 2, 1), (17, 1, 0, 3)]:
        # h5[n, c, i, j] == MATLAB data(j+1, i+1, c+1, n+1), stored as single.
        assert h5[n, c, i, j] == np.float32(data[j, i, c, n])
    assert np.array_equal(h5, np.transpose(data).astype(np.float32))
    assert np.array_equal(lab, label.T.astype(np.float32))
    assert np.array_equal(h5read(path, "/data"), data.astype(np.float32))
    assert h5size(path, "data") == [w_, h_, c_, 24]


def test_store2hdf5_like_generate_train(tmp_path):
    """pretrain/generate_train.m: batches of chunksz, created once, then appended."""
    rng = np.random.default_rng(1)
    count, chunksz = 300, 128
    data = rng.random((32, 32, 1, count))
    label = rng.random((16, 16, 1, count))
    path = tmp_path / "train_lr12.h5"
    created = False
    total = 0
    for batchno in range(count // chunksz):
        last = batchno * chunksz
        startloc = {"dat": [1, 1, 1, total + 1], "lab": [1, 1, 1, total + 1]}
        dsz, lsz = store2hdf5(path, data[:, :, :, last:last + chunksz],
                              label[:, :, :, last:last + chunksz], not created, startloc, chunksz)
        created = True
        total = dsz[-1]
    assert total == 256 and dsz == [32, 32, 1, 256] and lsz == [16, 16, 1, 256]
    with h5py.File(path, "r") as f:
        assert f["data"].shape == (256, 1, 32, 32) and f["data"].chunks == (128, 1, 32, 32)
        assert f["label"].shape == (256, 1, 16, 16) and f["label"].maxshape == (None, 1, 16, 16)
        # Tolerance: none; single(data), dimensions reversed.
        assert np.array_equal(f["data"][()], np.transpose(data[..., :256]).astype(np.float32))
    # Default startloc appends after what is stored; create=True replaces the file.
    store2hdf5(path, data[..., :2], label[..., :2], False)
    assert h5size(path, "data")[-1] == 258
    store2hdf5(path, data[..., :4], label[..., :4], True, chunksz=2)
    assert h5size(path, "label") == [16, 16, 1, 4]


def test_labels_as_rows_like_writeh5file(tmp_path):
    """matlabscripts/generate_h5/writeh5file.m writes label(1, ...) of size [1 N]."""
    rng = np.random.default_rng(2)
    data = rng.random((6, 6, 3, 4))
    labels = rng.random((1, 4))
    store2hdf5(tmp_path / "x.h5", data, labels, True, {"dat": [1, 1, 1, 1], "lab": [1, 1]}, 2)
    with h5py.File(tmp_path / "x.h5", "r") as f:
        assert f["label"].shape == (4, 1) and f["label"].chunks == (2, 1)
        # Tolerance: none; single(label).
        assert np.array_equal(f["label"][:, 0], labels[0].astype(np.float32))


def test_writer_is_atomic(tmp_path):
    path = tmp_path / "out.h5"
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with MatlabH5Writer(path, {"data": (2,)}, chunksz=1) as w:
            w.append(data=np.ones((2, 3)))
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.h5"]


def test_hyperslab_read(tmp_path):
    data = np.arange(2 * 3 * 5, dtype=np.float64).reshape(2, 3, 5)
    labels = np.zeros((1, 5))
    store2hdf5(tmp_path / "s.h5", data, labels, True, chunksz=5)
    part = h5read(tmp_path / "s.h5", "/data", start=[1, 2, 3], count=[2, 2, 3])
    # Tolerance: none; small integers are exact in single.
    assert np.array_equal(part, data[:, 1:3, 2:5])


def test_bad_input(tmp_path):
    with pytest.raises(PortError, match="chunksz"):
        MatlabH5Writer(tmp_path / "a.h5", {"data": (2,)}, chunksz=0)
    with MatlabH5Writer(tmp_path / "a.h5", {"data": (2, 2)}, chunksz=1) as w:
        with pytest.raises(PortError, match=r"data: expected a batch of size \[2, 2, 'k'\]"):
            w.append(data=np.zeros((2, 3, 1)))
        with pytest.raises(PortError, match="unknown dataset"):
            w.append(label=np.zeros((1, 1)))
    with pytest.raises(PortError, match="samples"):
        store2hdf5(tmp_path / "b.h5", np.zeros((2, 3)), np.zeros((1, 4)))
    with pytest.raises(PortFileError, match="not found"):
        store2hdf5(tmp_path / "missing.h5", np.zeros((2, 3)), np.zeros((1, 3)), False)
    store2hdf5(tmp_path / "c.h5", np.zeros((2, 3)), np.zeros((1, 3)), True, chunksz=3)
    with pytest.raises(PortError, match="dimensions must match"):
        store2hdf5(tmp_path / "c.h5", np.zeros((4, 3)), np.zeros((1, 3)), False)
    with pytest.raises(PortFileError, match="missing"):
        h5read(tmp_path / "c.h5", "/nothing")
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(PortFileError, match="junk.h5"):
        h5read(tmp_path / "junk.h5", "/data")


def test_float32_rounding_of_doubles(tmp_path):
    x = np.array([[0.1, 1 / 3, math.pi]])
    store2hdf5(tmp_path / "r.h5", x, np.zeros((1, 3)), True, chunksz=3)
    # Tolerance: none; single() rounds to nearest even like numpy's float32 cast.
    assert np.array_equal(h5read(tmp_path / "r.h5", "/data"), x.astype(np.float32))
