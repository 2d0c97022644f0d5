"""Caffe's tools as caffe-compat subcommands: convert_imageset writes Caffe's keys and Datum
bytes, compute_image_mean Caffe's mean file byte for byte, extract_features Caffe's feature
records; gflags spellings; atomic outputs; the upgrade tools and device_query."""
import os
import sys

import cv2
import numpy as np
import pytest
import torch

from caffe_compat.cli import main as cli
from caffe_compat.data import db as db_io
from caffe_compat.errors import DataError
from caffe_compat.io import prototxt as prototxt_io
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat import data_fixtures as fx


def run_cli(*args):
    return cli.main([str(a) for a in args])


def read_all(path, backend):
    reader = db_io.open_db(path, backend)
    try:
        out, first = [], None
        for k, v in reader.records():
            if first is None:
                first = k
            elif k == first:
                break
            out.append((k, v))
        return out
    finally:
        reader.close()


def _datum(value):
    d = caffe_pb2.Datum()
    d.ParseFromString(value)
    return d


@pytest.mark.parametrize("name", sorted(fx.cases()["databases"]))
def test_convert_imageset_writes_caffes_keys_and_datums(name, tmp_path):
    spec = fx.cases()["databases"][name]
    out = tmp_path / name
    assert run_cli("convert_imageset", *spec["flags"], f"{fx.IMAGES}/",
                   fx.IMAGES / "list_convert.txt", out) == 0
    ours = read_all(out, spec["backend"])
    theirs = fx.database_records(name)
    # the missing image of line 4 is skipped, its index is not reused
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert b"00000004_a3.jpg" in [k for k, _ in ours] and len(ours) == 7
    for (key, value), (_, want) in zip(ours, theirs):
        if name == "enc_png_lmdb":
            # images re-encoded by OpenCV's PNG writer: the compressed bytes depend on the
            # zlib build, so compare the pixels they decode to (exactly) and the other fields
            a, b = _datum(value), _datum(want)
            assert (a.label, a.encoded) == (b.label, b.encoded)
            pa = cv2.imdecode(np.frombuffer(a.data, np.uint8), cv2.IMREAD_UNCHANGED)
            pb = cv2.imdecode(np.frombuffer(b.data, np.uint8), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(pa, pb, err_msg=str(key))
        else:
            assert value == want, key      # byte-identical Datum


@pytest.mark.parametrize("mean", sorted(fx.cases()["means"]))
def test_compute_image_mean_writes_caffes_file(mean, tmp_path):
    db = fx.cases()["means"][mean]
    backend = "leveldb" if db.endswith("leveldb") else "lmdb"
    src = tmp_path / db
    fx.write_database(fx.database_records(db), src, backend)
    out = tmp_path / "mean.binaryproto"
    assert run_cli("compute_image_mean", f"-backend={backend}", src, out) == 0
    assert out.read_bytes() == (fx.FIXTURES / f"{mean}.binaryproto").read_bytes()


def test_extract_features_writes_caffes_records(tmp_path):
    spec = fx.cases()["features"]
    db = tmp_path / "raw_lmdb"
    fx.write_database(fx.database_records("raw_lmdb"), db, "lmdb")
    proto = tmp_path / "features.prototxt"
    proto.write_text(fx.fill(spec["prototxt"], tmp_path, {}))
    outs = [tmp_path / f"features_{b}_lmdb" for b in spec["blobs"]]
    assert run_cli("extract_features", fx.FIXTURES / "features.caffemodel", proto,
                   ",".join(spec["blobs"]), ",".join(map(str, outs)), spec["batches"], "lmdb",
                   "CPU") == 0
    for blob, out in zip(spec["blobs"], outs):
        ours = read_all(out, "lmdb")
        theirs = fx.database_records(f"features_{blob}_lmdb")
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        for (key, value), (_, want) in zip(ours, theirs):
            a, b = _datum(value), _datum(want)
            assert (a.channels, a.height, a.width) == (b.channels, b.height, b.width)
            # the data blob is copied exactly; the InnerProduct output is a float32 sum
            # whose order may differ from OpenBLAS's: 1e-6 relative to its scale
            tol = 0 if blob == "data" else 1e-6 * max(1.0, np.abs(b.float_data).max())
            np.testing.assert_allclose(a.float_data, b.float_data, rtol=0, atol=tol,
                                       err_msg=str(key))


# ------------------------------------------------------------------------------ behaviour
def _list(tmp_path, names):
    lst = tmp_path / "list.txt"
    lst.write_text("".join(f"{n} {i}\n" for i, n in enumerate(names)))
    return lst


def test_gflags_boolean_spellings(tmp_path):
    lst = _list(tmp_path, ["a0.png"])
    for i, flags in enumerate((["--gray"], ["-gray=true"], ["-gray", "-nogray"],
                               ["--gray=false"])):
        out = tmp_path / f"db{i}"
        assert run_cli("convert_imageset", *flags, f"{fx.IMAGES}/", lst, out) == 0
        channels = _datum(read_all(out, "lmdb")[0][1]).channels
        assert channels == (1 if i < 2 else 3), flags


def test_existing_target_is_refused(tmp_path, capsys):
    lst = _list(tmp_path, ["a0.png"])
    (tmp_path / "db").mkdir()
    assert run_cli("convert_imageset", f"{fx.IMAGES}/", lst, tmp_path / "db") == 1
    assert "already exists" in capsys.readouterr().err


def test_failure_leaves_no_database(tmp_path, capsys):
    # --check_size stops at the second image (another size): nothing may be left behind
    lst = _list(tmp_path, ["a0.png", "a1.jpg"])
    before = set(os.listdir(tmp_path))
    assert run_cli("convert_imageset", "--check_size", f"{fx.IMAGES}/", lst,
                   tmp_path / "db") == 1
    assert "incorrect data field size" in capsys.readouterr().err
    assert set(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("backend", ["lmdb", "leveldb"])
def test_interrupt_leaves_no_database(tmp_path, monkeypatch, backend):
    from caffe_compat.tools import convert_imageset as tool
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = tool.image_to_datum
    monkeypatch.setattr(tool, "image_to_datum", interrupted)
    lst = _list(tmp_path, ["a0.png", "a4.png"])
    before = set(os.listdir(tmp_path))
    assert run_cli("convert_imageset", f"-backend={backend}", f"{fx.IMAGES}/", lst,
                   tmp_path / "db") == 130
    assert set(os.listdir(tmp_path)) == before


def test_shuffle_with_a_seed_is_caffes_shuffle(tmp_path):
    from caffe_compat.data.caffe_random import CaffeRandom, shuffle
    names = ["a0.png", "a1.jpg", "a2.png", "a3.jpg", "a4.png", "a5.JPEG"]
    lst = _list(tmp_path, names)
    assert run_cli("convert_imageset", "--shuffle", "--random_seed=5", f"{fx.IMAGES}/", lst,
                   tmp_path / "db") == 0
    order = list(range(len(names)))
    shuffle(order, CaffeRandom(5))
    keys = [k for k, _ in read_all(tmp_path / "db", "lmdb")]
    assert keys == sorted(f"{i:08d}_{names[j]}".encode() for i, j in enumerate(order))


def test_missing_lmdb_package_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(DataError, match=r"pip install 'robust-lq-emotion\[data\]'"):
        db_io.open_db(tmp_path, "lmdb")


def test_compute_image_mean_of_an_empty_database(tmp_path, capsys):
    fx.write_database([], tmp_path / "db", "lmdb")
    assert run_cli("compute_image_mean", tmp_path / "db", tmp_path / "m.binaryproto") == 1
    assert "has no records" in capsys.readouterr().err
    assert not (tmp_path / "m.binaryproto").exists()


# ------------------------------------------------------------------------------ upgrades
V1_NET = """name: "old"
layers { name: "data" type: DATA top: "data" top: "label"
  data_param { source: "x_lmdb" backend: LMDB batch_size: 2 scale: 0.5 mirror: true } }
layers { name: "ip" type: INNER_PRODUCT bottom: "data" top: "ip" blobs_lr: 1 blobs_lr: 2
  inner_product_param { num_output: 3 } }
"""


def test_upgrade_net_proto_text(tmp_path, capsys):
    src, out = tmp_path / "old.prototxt", tmp_path / "new.prototxt"
    src.write_text(V1_NET)
    assert run_cli("upgrade_net_proto_text", src, out) == 0
    net = prototxt_io.read_net(out, upgrade=False)
    assert [lp.type for lp in net.layer] == ["Data", "InnerProduct"]
    assert net.layer[0].transform_param.mirror and net.layer[0].transform_param.scale == 0.5
    assert [p.lr_mult for p in net.layer[1].param] == [1, 2]
    assert run_cli("upgrade_net_proto_text", out, tmp_path / "again.prototxt") == 0
    assert "File already in latest proto format" in capsys.readouterr().err
    assert (tmp_path / "again.prototxt").read_text() == out.read_text()


def test_upgrade_net_proto_binary(tmp_path):
    net = prototxt_io.parse_net(V1_NET, upgrade=False)
    src, out = tmp_path / "old.caffemodel", tmp_path / "new.caffemodel"
    src.write_bytes(net.SerializeToString())
    assert run_cli("upgrade_net_proto_binary", src, out) == 0
    new = caffe_pb2.NetParameter()
    new.ParseFromString(out.read_bytes())
    assert [lp.type for lp in new.layer] == ["Data", "InnerProduct"] and not len(new.layers)


def test_upgrade_solver_proto_text(tmp_path):
    src, out = tmp_path / "s.prototxt", tmp_path / "n.prototxt"
    src.write_text('net: "x.prototxt"\nsolver_type: ADAM\nbase_lr: 0.1\n')
    assert run_cli("upgrade_solver_proto_text", src, out) == 0
    solver = prototxt_io.read_solver(out, upgrade=False)
    assert solver.type == "Adam" and not solver.HasField("solver_type")
    assert not solver.HasField("snapshot_prefix")     # only the solver_type upgrade


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_device_query_without_a_gpu(capsys):
    assert run_cli("device_query", "-gpu", "0") == 1
    assert "no CUDA device 0" in capsys.readouterr().err


def test_device_query_lines_name_caffes_device_query_lines(capsys, monkeypatch):
    """Each field is placed at the line of Caffe::DeviceQuery (src/caffe/common.cpp) that
    prints it; a field Caffe does not print, at the function's first line (a device stands in
    for torch's here, so that the check runs without a GPU)."""
    class Properties:
        major, minor, name, total_memory, multi_processor_count = 9, 0, "Some GPU", 1 << 30, 132
        warp_size, L2_cache_size = 32, 1 << 20

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Properties)
    assert run_cli("device_query", "-gpu", "0") == 0
    places = {line.split("] ", 1)[1].split(":")[0]: line.split()[3] for line in
              capsys.readouterr().err.splitlines() if "] " in line}
    assert places == {"Querying GPUs 0": "caffe.cpp:138]", "Device id": "common.cpp:178]",
                      "Major revision number": "common.cpp:179]",
                      "Minor revision number": "common.cpp:180]", "Name": "common.cpp:181]",
                      "Total global memory": "common.cpp:182]",
                      "Number of multiprocessors": "common.cpp:199]",
                      "Warp size": "common.cpp:185]", "L2 cache size": "common.cpp:170]"}


@pytest.mark.parametrize("name", ["v1_net", "v0_net", "bn_net", "old_solver"])
def test_upgrade_tools_write_caffes_bytes(tmp_path, name):
    """upgrade_net_proto_text / upgrade_solver_proto_text write what Caffe 1.0's write, byte
    for byte (fixtures/upgrade/make_upgrade_fixtures.py ran Caffe's tools): protobuf's C++
    printer, floats in 6 digits or 9 where 6 do not read back (0.333333343, 123456792)."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "upgrade")
    tool = "upgrade_solver_proto_text" if name.endswith("solver") else "upgrade_net_proto_text"
    out = tmp_path / "out.prototxt"
    assert run_cli(tool, os.path.join(here, f"{name}.in.prototxt"), out) == 0
    with open(os.path.join(here, f"{name}.caffe.prototxt"), "rb") as f:
        assert out.read_bytes() == f.read()
