"""HDF5Data against Caffe 1.0 (cnnd_trainval_test and pretrain_test read data.h5 through
h5_list.txt) and Caffe's reading order: rows in file order, the next file after the last row,
back to the first file at the end, list and file names relative to the working directory."""
import os

import h5py
import numpy as np
import pytest

from caffe_compat import Net, NetError
from tests.caffe_compat.layers.helpers_struct import report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type

# HDF5Data copies the stored float32 rows: bit-identical.
EXACT = 0.0


@pytest.mark.parametrize("fixture", ["cnnd_trainval_test", "pretrain_test"])
def test_hdf5_data_matches_caffe(fixture):
    fwd, bwd = report(f"HDF5Data ({fixture})", check_layer_type(fixture, "HDF5Data"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


NET = '''name: "h"
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "%s" batch_size: %d } }
'''


def write_rows(path, start, n):
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(start, start + n, dtype=np.float32).reshape(n, 1, 1, 1) \
            * np.ones((1, 2, 1, 3), np.float32)
        f["label"] = np.arange(start, start + n, dtype=np.float32).reshape(n, 1) * 10


def test_rows_in_order_across_files_and_wrapping(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_rows("first.h5", 0, 3)
    write_rows("second.h5", 3, 2)
    (tmp_path / "list.txt").write_text("first.h5\nsecond.h5\n")
    net = Net(NET % ("list.txt", 2), phase="test")
    assert net.blob_shape("data") == (2, 2, 1, 3) and net.blob_shape("label") == (2, 1)
    seen = []
    for _ in range(4):
        out = net.forward()
        rows = out["data"].numpy()[:, 0, 0, 0]
        assert np.abs(out["label"].numpy()[:, 0] - rows * 10).max() <= EXACT
        seen.append(rows.tolist())
    # A batch may span the end of one file and the start of the next; after file 2, file 1.
    assert seen == [[0, 1], [2, 3], [4, 0], [1, 2]]


def test_the_list_is_split_as_caffes_stream_reads_it(tmp_path):
    """Caffe reads the list with C++'s ``>>``: bytes (a Latin-1 file name), ASCII white space
    only (a no-break space is part of a name), CRLF lines; as real Caffe 1.0 read them."""
    from caffe_compat.data.hdf5 import read_source_list
    named = [os.fsdecode(bytes(tmp_path) + b"/caf\xe9.h5"), str(tmp_path / "a\u00a0b.h5")]
    for name in named:
        write_rows(name, 0, 2)
    (tmp_path / "list.txt").write_bytes(b"".join(os.fsencode(n) + b"\r\n" for n in named))
    assert read_source_list(tmp_path / "list.txt") == named


def test_bad_parameters_name_the_layer(tmp_path, monkeypatch):
    with pytest.raises(NetError, match=r"layer 'data'.*source is empty"):
        Net(NET % ("", 2), phase="test")
    # Caffe 1.0: "Check failed: !has_transform_param() HDF5Data does not transform data."
    # on either engine (the array engine leaves such a net to the torch engine's refusal)
    write_rows(tmp_path / "a.h5", 0, 4)
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'a.h5'}\n")
    text = (NET % (tmp_path / "list.txt", 2)).replace("} }", "} transform_param { scale: 2 } }")
    (tmp_path / "net.prototxt").write_text(text)
    import caffe
    for array_net in ("1", "0"):
        monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", array_net)
        with pytest.raises(NetError, match=r"layer 'data'.*HDF5Data does not transform data"):
            caffe.Net(str(tmp_path / "net.prototxt"), caffe.TRAIN)
