"""MAT-file load/save keeping MATLAB orientation, v7 (scipy.io) and v7.3 (HDF5)."""
import os

import h5py
import numpy as np
import pytest

from matlab_ports import PortError, loadmat, savemat
from matlab_ports.errors import PortFileError
from matlab_ports.matfile import mat_version
from tests.conftest import fixture_path


def test_load_matlab_written_v5_file():
    path = fixture_path("matlab-reference", "lapsrn_set5_2017", "bird_GT.mat")
    assert mat_version(path) == "5"
    d = loadmat(path)
    # the committed copy leaves out im_b's element (tests/fixtures/matlab-reference/PROVENANCE.md)
    assert set(d) - {"im_b"} == {"im_gt", "im_gt_y", "im_l_ycbcr", "im_l_y", "im_b_y"}
    assert d["im_gt"].shape == (288, 288, 3) and d["im_gt"].dtype == np.uint8
    assert d["im_l_ycbcr"].shape == (72, 72, 3) and d["im_l_ycbcr"].dtype == np.float64


@pytest.mark.parametrize("version", ["7", "6", "7.3"])
def test_round_trip_keeps_orientation_and_class(tmp_path, version):
    rng = np.random.default_rng(0)
    patches = rng.random((96, 96, 5)).astype(np.float32)
    values = {"patches": patches, "labels": np.arange(5, dtype=np.float64).reshape(1, 5),
              "mask": np.array([[True, False, True]]), "img": rng.integers(0, 255, (4, 6, 3))
              .astype(np.uint8), "scalar": 2.5}
    path = tmp_path / "x.mat"
    savemat(path, values, version=version)
    assert mat_version(path) == ("7.3" if version == "7.3" else "5")
    back = loadmat(path)
    assert back["patches"].shape == (96, 96, 5) and back["patches"].dtype == np.float32
    # Tolerance: none; MAT-files store the values bit for bit.
    assert np.array_equal(back["patches"], patches)
    assert np.array_equal(back["labels"], values["labels"])
    assert back["mask"].dtype == np.bool_ and back["mask"].tolist() == [[True, False, True]]
    assert np.array_equal(back["img"], values["img"])
    assert back["scalar"].shape == (1, 1) and back["scalar"][0, 0] == 2.5
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_v7_header_and_compression(tmp_path):
    path = tmp_path / "v7.mat"
    savemat(path, {"a": np.zeros((3, 3))})
    raw = path.read_bytes()
    assert raw[:52] == b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: " or \
        raw.startswith(b"MATLAB 5.0 MAT-file, Platform: ")
    assert raw[116:124] == b"\x00" * 8 and raw[124:128] == b"\x00\x01IM"
    assert int.from_bytes(raw[128:132], "little") == 15  # miCOMPRESSED
    savemat(tmp_path / "v6.mat", {"a": np.zeros((3, 3))}, version="6")
    assert int.from_bytes((tmp_path / "v6.mat").read_bytes()[128:132], "little") == 14  # miMATRIX


def test_v73_layout(tmp_path):
    path = tmp_path / "v73.mat"
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    savemat(path, {"a": a, "name": "abc", "s": {"x": np.float32(1.5), "y": np.zeros((0, 3))},
                   "z": np.array([[1 + 2j, 3 - 1j]])}, version="7.3")
    raw = path.read_bytes()
    assert raw.startswith(b"MATLAB 7.3 MAT-file, Platform: ")
    assert raw[:116].rstrip(b" ").endswith(b"HDF5 schema 1.00 .")
    assert raw[124:128] == b"\x00\x02IM" and raw[512:520] == b"\x89HDF\r\n\x1a\n"
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        assert f["a"].shape == (4, 3, 2) and f["a"].attrs["MATLAB_class"] == b"double"
        assert f["a"][3, 2, 1] == a[1, 2, 3]
        assert f["name"].attrs["MATLAB_class"] == b"char" and f["name"].shape == (3, 1)
        assert f["s"].attrs["MATLAB_class"] == b"struct"
        assert f["s"]["y"].attrs["MATLAB_empty"] == 1
    back = loadmat(path)
    # Tolerance: none; HDF5 stores the values bit for bit.
    assert np.array_equal(back["a"], a)
    assert back["name"].tolist() == ["abc"]
    assert back["s"]["x"].dtype == np.float32 and back["s"]["x"][0, 0] == 1.5
    assert back["s"]["y"].shape == (0, 3)
    assert back["z"].tolist() == [[1 + 2j, 3 - 1j]]


def test_errors(tmp_path):
    with pytest.raises(PortFileError, match="not found"):
        loadmat(tmp_path / "missing.mat")
    (tmp_path / "junk.mat").write_bytes(b"\x00" * 200)
    with pytest.raises(PortFileError, match="junk.mat"):
        loadmat(tmp_path / "junk.mat")
    with pytest.raises(PortError, match="variable name"):
        savemat(tmp_path / "a.mat", {"1abc": 1})
    with pytest.raises(PortError, match="version"):
        savemat(tmp_path / "a.mat", {"a": 1}, version="8")
    with pytest.raises(PortError, match="cell"):
        savemat(tmp_path / "a.mat", {"c": np.array([1, "x"], dtype=object)}, version="7.3")
    assert not (tmp_path / "a.mat").exists()
