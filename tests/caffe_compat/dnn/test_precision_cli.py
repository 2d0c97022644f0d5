"""The int8 opt-ins outside cv2.dnn: calibration sources (caffe_compat.data.calibration),
``caffe-compat export --precision int8``, ``caffe-compat precision`` and the CNN+D's
``--precision`` in the evaluation and the prediction (matlab_ports.precision)."""
import json

import h5py
import numpy as np
import pytest

from caffe_compat import DataError
from caffe_compat.cli.main import main as cli
from caffe_compat.data.calibration import read_inputs
from tests.caffe_compat.dnn.fixtures.make_quantize_fixtures import case

pytest.importorskip("onnxruntime.quantization")
cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """(prototxt, caffemodel, HDF5 list, calibration blob) of the quantize tests' LeNet."""
    folder = tmp_path_factory.mktemp("lenet")
    text, model, calib, _ = case("lenet")
    (folder / "l.prototxt").write_text(text)
    (folder / "l.caffemodel").write_bytes(model)
    with h5py.File(folder / "c.h5", "w") as f:
        f["data"] = calib
        f["label"] = np.arange(len(calib), dtype=np.float32)
    (folder / "c.txt").write_text("c.h5\n")
    return folder / "l.prototxt", folder / "l.caffemodel", folder / "c.txt", calib


def test_image_folder_is_blob_from_image(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(3)]
    for k, img in enumerate(imgs):
        cv2.imwrite(str(tmp_path / f"{k}.png"), img)
    (tmp_path / "notes.txt").write_text("not an image")
    got = read_inputs(tmp_path, {"data": (1, 3, 32, 24)}, mean="10,20,30", scale=0.5,
                      swap_rb=True)
    want = np.concatenate([cv2.dnn.blobFromImage(img, 0.5, (24, 32), (10, 20, 30), True)
                           for img in imgs])
    assert got.feeds["data"].shape == (3, 3, 32, 24) and got.names == ["0.png", "1.png", "2.png"]
    np.testing.assert_allclose(got.feeds["data"], want, atol=1e-4)
    assert len(read_inputs(tmp_path, {"data": (1, 3, 32, 24)}, limit=2)) == 2
    with pytest.raises(DataError, match="one value or 3"):
        read_inputs(tmp_path, {"data": (1, 3, 8, 8)}, mean="1,2")
    with pytest.raises(DataError, match="one input"):
        read_inputs(tmp_path, {"a": (1, 3, 8, 8), "b": (1, 3, 8, 8)})


def test_hdf5_list(lenet, tmp_path):
    _, _, listing, calib = lenet
    got = read_inputs(listing, {"data": (1, 1, 28, 28)})
    np.testing.assert_array_equal(got.feeds["data"], calib)
    assert list(got.labels) == list(range(8))
    with pytest.raises(DataError, match="takes"):
        read_inputs(listing, {"data": (1, 1, 32, 32)})
    with pytest.raises(DataError, match="no dataset 'image'"):
        read_inputs(listing, {"image": (1, 1, 28, 28), "data": (1, 1, 28, 28)})
    with pytest.raises(DataError, match="folder of images"):
        read_inputs(listing, {"data": (1, 1, 28, 28)}, scale=2.0)
    with pytest.raises(DataError, match="list file"):
        read_inputs(str(listing)[:-4] + ".h5", {"data": (1, 1, 28, 28)})


def test_export_int8(lenet, tmp_path, capsys):
    import onnxruntime as ort
    proto, model, listing, calib = lenet
    out = tmp_path / "l8.onnx"
    assert cli(["export", "-model", str(proto), "-weights", str(model), "--out", str(out),
                "--precision", "int8", "--calibration", str(listing),
                "--static-batch", "4"]) == 0
    text = capsys.readouterr().out
    assert "int8: QDQ" in text and "batch 4" in text and "int8 file vs float32, prob" in text
    s = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in s.get_outputs()] == ["prob"]
    import onnx
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    prob = s.run(None, {"data": calib[:4]})[0]
    assert prob.shape == (4, 10) and np.allclose(prob.sum(1), 1, atol=1e-3)
    # refusals
    assert cli(["export", "-model", str(proto), "-weights", str(model), "--out",
                str(tmp_path / "x.onnx"), "--precision", "int8"]) == 1
    assert "needs --calibration" in capsys.readouterr().err
    assert cli(["export", "-model", str(proto), "-weights", str(model), "--out",
                str(tmp_path / "x"), "--format", "pytorch", "--precision", "int8",
                "--calibration", str(listing)]) == 1
    assert "ONNX only" in capsys.readouterr().err


def test_precision_command(lenet, tmp_path, capsys):
    proto, model, listing, _ = lenet
    report = tmp_path / "r.json"
    assert cli(["precision", "-model", str(proto), "-weights", str(model), "--calibration",
                str(listing), "--batch", "1", "--seconds", "0.2", "--json", str(report)]) == 0
    text = capsys.readouterr().out
    assert "float32 (caffe_compat.dnn) vs int8" in text and "classifier" in text
    assert "top-1 agreement" in text and "batch 1: float32" in text
    got = json.loads(report.read_text())
    row = got["agreement"]["prob"]
    assert row["top5_agreement"] == 1.0 and row["max_deviation_over_scale"] < 0.22
    assert got["speed"]["1"]["int8"] > 0 and got["calibration"]["items"] == 8


def test_precision_command_bf16(lenet, tmp_path, capsys):
    """``--precision bfloat16``: the report names bf16 where the processor computes in it, and
    says that float32 ran where it does not (no figure claims a bf16 it did not run)."""
    import warnings

    from caffe_compat.onnx_path import reduced
    proto, model, listing, _ = lenet
    report = tmp_path / "r.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # CPU_FP16's warning where there is no bf16
        assert cli(["precision", "-model", str(proto), "-weights", str(model),
                    "--evaluation", str(listing), "--batch", "1", "--seconds", "0.2",
                    "--precision", "bfloat16", "--json", str(report)]) == 0
    text = capsys.readouterr().out
    got = json.loads(report.read_text())
    hint, _ = reduced.capability()
    assert got["precision"] == "bfloat16"
    assert got["ran"] == (reduced.HINTS[hint] if hint else "float32")
    assert "float32 (caffe_compat.dnn) vs bfloat16" in text and "compiled in" in text
    assert ("is not available on this processor" in text) == (hint is None)
    row = got["agreement"]["prob"]
    assert "accuracy_bfloat16" in row and row["top1_agreement"] == 1.0
    assert row["max_deviation_over_scale"] < 0.05       # bf16: 8 bits of mantissa
    assert got["speed"]["1"]["bfloat16"] > 0


def test_precision_command_bf16_without_it_says_float32_ran(lenet, tmp_path, capsys,
                                                           monkeypatch):
    import warnings

    from caffe_compat.onnx_path import reduced
    monkeypatch.setattr(reduced, "capability",
                        lambda: (None, "this processor has no bf16 / fp16 arithmetic (test)"))
    proto, model, listing, _ = lenet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli(["precision", "-model", str(proto), "-weights", str(model),
                    "--calibration", str(listing), "--batch", "1", "--seconds", "0.1",
                    "--precision", "bfloat16"]) == 0
    text = capsys.readouterr().out
    assert "bfloat16 is not available on this processor; what ran is float32" in text
    assert any("CPU_FP16" in str(w.message) for w in caught)


def test_precision_command_int8_needs_calibration(lenet, capsys):
    proto, model, listing, _ = lenet
    assert cli(["precision", "-model", str(proto), "-weights", str(model), "--evaluation",
                str(listing)]) != 0
    assert "int8 needs --calibration" in capsys.readouterr().err


def test_precision_command_on_a_cuda_device_without_one_says_float32_ran(lenet, tmp_path,
                                                                          capsys):
    """``--device cuda`` where torch sees no CUDA device: both run on the CPU in float32
    after the target's warning, and the report says what ran."""
    import warnings

    import torch
    if torch.cuda.is_available():
        pytest.skip("checks the machine without a CUDA device (the cuda test below runs here)")
    proto, model, listing, _ = lenet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli(["precision", "-model", str(proto), "-weights", str(model),
                    "--evaluation", str(listing), "--batch", "1", "--seconds", "0.1",
                    "--precision", "float16", "--device", "cuda"]) == 0
    text = capsys.readouterr().out
    assert "float16 is not available without a CUDA device; what ran is float32" in text
    assert any("no CUDA device" in str(w.message) for w in caught)


@pytest.mark.cuda
@pytest.mark.parametrize("precision, bound", [("float16", 0.01), ("bfloat16", 0.05)])
def test_precision_command_on_the_cuda_device(lenet, tmp_path, capsys, precision, bound):
    """float16 / bfloat16 autocast on the device against float32 on the device: the
    agreement reported, what ran named."""
    proto, model, listing, _ = lenet
    report = tmp_path / "r.json"
    assert cli(["precision", "-model", str(proto), "-weights", str(model),
                "--evaluation", str(listing), "--batch", "1", "8", "--seconds", "0.3",
                "--precision", precision, "--device", "cuda", "--json", str(report)]) == 0
    got = json.loads(report.read_text())
    assert got["ran"] == precision and "CUDA device" in got[f"{precision}_engine"]
    row = got["agreement"]["prob"]
    # float16: 11 bits of mantissa, bfloat16: 8, over LeNet's sums of a few hundred products
    assert row["top1_agreement"] == 1.0 and row["max_deviation_over_scale"] < bound


def test_reduced_precision_refuses_what_a_device_cannot_run(lenet):
    from caffe_compat import reduced_precision
    from caffe_compat.errors import NetError
    proto, model, _, _ = lenet
    with pytest.raises(NetError, match="float16 runs on a CUDA device"):
        reduced_precision((str(proto), str(model)), "float16")
    with pytest.raises(NetError, match="int8 runs on the CPU"):
        reduced_precision((str(proto), str(model)), "int8", device="cuda")
    with pytest.raises(NetError, match="device 'tpu'"):
        reduced_precision((str(proto), str(model)), "float32", device="tpu")
