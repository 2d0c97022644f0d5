"""HDF5Output against Caffe 1.0: the file Caffe writes (datasets "data" and "label", 4-axis
float32), the empty file created at set-up, the refusal of a second forward (Caffe aborts) and
atomic writing."""
import h5py
import numpy as np
import pytest

from caffe_compat import Net, NetError
from caffe_compat.layers import hdf5_output
from tests.caffe_compat.layers.new_layer_cases import CaseRun, case_meta, working_dir

# The file holds the bottoms' float32 values: bit-identical.
EXACT = 0.0


def test_hdf5_output_writes_caffes_file(tmp_path):
    with working_dir(tmp_path):
        run = CaseRun("hdf5_output", workdir=tmp_path)
        meta, _ = case_meta("hdf5_output")
        with h5py.File(tmp_path / "written.h5", "r") as f:
            assert sorted(f) == ["data", "label"]
            for name in ("data", "label"):
                ref = run.ref[f"h5/{name}"]
                assert f[name].shape == ref.shape and str(f[name].dtype) == meta["h5_dtypes"][name]
                assert np.abs(f[name][...] - ref).max() <= EXACT
        print(f"\nCaffe's second forward: {meta['second_forward']}")
        assert not meta["second_forward"]["returned"]        # Caffe aborted
        with pytest.raises(NetError, match=r"layer 'out'.*one batch per net"):
            run.net.forward(**{k.split("/", 2)[2]: v for k, v in run.ref.items()
                               if k.startswith("s0/in/")})


NET = '''name: "o"
layer { name: "in" type: "Input" top: "d" top: "l" input_param { shape { dim: 2 dim: 3 }
        shape { dim: 2 } } }
layer { name: "out" type: "HDF5Output" bottom: "d" bottom: "l"
        hdf5_output_param { file_name: "%s" } }
'''


def test_setup_creates_an_empty_file_and_a_failed_write_leaves_it(tmp_path, monkeypatch):
    path = tmp_path / "o.h5"
    path.write_bytes(b"old contents")
    net = Net(NET % path)
    with h5py.File(path, "r") as f:                 # truncated at set-up, as Caffe does
        assert list(f) == []

    def broken(self, datasets):
        with hdf5_output.atomic_path(self.file_name, suffix=".h5") as tmp:
            with h5py.File(tmp, "w") as f:
                f.create_dataset("data", data=datasets["data"])
                raise KeyboardInterrupt
    monkeypatch.setattr(hdf5_output.HDF5Output, "_write", broken)
    with pytest.raises(KeyboardInterrupt):
        net.forward(d=np.ones((2, 3), np.float32), l=np.zeros(2, np.float32))
    with h5py.File(path, "r") as f:
        assert list(f) == []                        # no half-written file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.h5"]


def test_bad_bottoms_name_the_layer(tmp_path):
    with pytest.raises(NetError, match=r"layer 'out'.*same number of items"):
        Net((NET % (tmp_path / "o.h5")).replace("shape { dim: 2 } }", "shape { dim: 3 } }"))
    with pytest.raises(NetError, match=r"layer 'out'.*file_name is empty"):
        Net(NET % "")
