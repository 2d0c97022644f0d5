"""Export to ONNX (checked, run in onnxruntime), TorchScript and state_dict."""
import numpy as np
import pytest
import torch

import caffe_compat
import lq_models
from caffe_compat.tools.files import caffemodel_to_state_dict, load_state_dict_file
from reproduction import export
from tests.conftest import fixture_path

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

# onnxruntime's convolution/GEMM kernels sum in another order than torch's: float32 rounding,
# relative to the output's largest magnitude (the bound).
ONNX_RTOL = 1e-5
# Caffe (OpenBLAS im2col+GEMM) vs our forward: float32 reordering, caffe-reference README.
CAFFE_RTOL = 1e-5


def _ours(net, x):
    with torch.no_grad():
        return export.ExportModule(net)(torch.from_numpy(x)).numpy()


def _run_onnx(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"data": x})[0]


def _rel(a, b):
    return float(np.abs(a - b).max()) / float(np.abs(b).max())


def test_onnx_cnnd_matches_ours_and_caffe(tmp_path):
    ref = fixture_path("caffe-reference", "forward", "deploy_cnnd")
    net = lq_models.load_net(ref / "init.caffemodel")
    out = tmp_path / "cnnd.onnx"
    export.export_onnx(net, out)
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["data"]
    assert [o.name for o in model.graph.output] == ["fc5"]
    x0 = np.load(ref / "input.npz")["data"]
    rng = np.random.default_rng(0)
    x = np.concatenate([x0, rng.random((4, 1, 96, 96), dtype=np.float32)])   # batch is free
    got = _run_onnx(out, x)
    assert got.shape == (5, 1)
    assert _rel(got, _ours(net, x)) <= ONNX_RTOL
    assert float(np.abs(got - _ours(net, x)).max()) <= ONNX_RTOL     # and absolutely
    caffe_fc5 = np.load(ref / "blobs.npz")["fc5"]
    assert _rel(got[:1], caffe_fc5) <= CAFFE_RTOL


def test_onnx_srfcn_matches_ours(tmp_path):
    weights = fixture_path("caffe-reference", "forward", "deploy_srcnn", "init.caffemodel")
    net = lq_models.load_net(weights)
    out = tmp_path / "sr.onnx"
    export.export_onnx(net, out)
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    x = np.random.default_rng(1).random((2, 1, 96, 96), dtype=np.float32)
    got = _run_onnx(out, x)
    assert got.shape == (2, 1, 80, 80)
    # SR outputs are ~1e-6 with these early weights: the bound is relative (README advice)
    assert _rel(got, _ours(net, x)) <= ONNX_RTOL


def test_onnx_filler_weights_and_42px_input(tmp_path):
    """Without reference data: filler weights, and a 42x42 CNN+D with its partial pool windows."""
    npm = caffe_compat.net.core.load_net_param(str(lq_models.get("hr").deploy_path))
    src = caffe_compat.Net(lq_models.set_input_size(npm, 42, 42), phase="test", seed=5)
    weights = tmp_path / "w42.caffemodel"
    src.save(weights)
    net = lq_models.load_net(weights, input_size=(42, 42))
    out = tmp_path / "w42.onnx"
    export.export_onnx(net, out, dynamic_batch=False)
    x = np.random.default_rng(2).random((2, 1, 42, 42), dtype=np.float32)
    assert _rel(_run_onnx(out, x), _ours(net, x)) <= ONNX_RTOL
    # and the export module itself is the net's forward
    with torch.no_grad():
        direct = net.forward(data=torch.from_numpy(x))["fc5"].numpy()
    assert np.array_equal(_ours(net, x), direct)       # same ops, same order: bit-identical


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_and_state_dict(tmp_path):
    weights = tmp_path / "w.caffemodel"
    caffe_compat.Net(str(lq_models.get("hr").deploy_path), phase="test", seed=9).save(weights)
    net = lq_models.load_net(weights)
    ts = tmp_path / "w.pt"
    export.export_torchscript(net, ts)
    loaded = torch.jit.load(str(ts))
    x = np.random.default_rng(3).random((3, 1, 96, 96), dtype=np.float32)
    with torch.no_grad():
        got = loaded(torch.from_numpy(x)).numpy()
    ours = _ours(net, x)
    # the traced graph keeps torch's portable convolution while eager inference may pick
    # another CPU algorithm (caffe_compat.layers.convolution): float32 sums in another order,
    # within the forward tolerance of the Caffe parity tests
    assert np.abs(got - ours).max() <= 1e-5 * np.abs(ours).max()
    sd = tmp_path / "w_sd.pt"
    export.export_state_dict(net, sd)
    state = load_state_dict_file(sd)
    expected = caffemodel_to_state_dict(weights)
    assert list(state) == list(expected)
    for k in state:
        assert torch.equal(state[k], expected[k])          # tolerance 0: copied values


def test_cli_export_and_errors(tmp_path, capsys):
    weights = tmp_path / "w.caffemodel"
    caffe_compat.Net(str(lq_models.get("srfcn-3").deploy_path), phase="test", seed=2).save(weights)
    out = tmp_path / "o" / "sr.onnx"
    assert export.main(["--weights", str(weights), "--format", "onnx", "--out", str(out)]) == 0
    assert out.is_file() and "onnxruntime vs caffe_compat" in capsys.readouterr().out
    bad = tmp_path / "bad.onnx"
    code = export.main(["--model", str(lq_models.get("hr").deploy_path), "--weights", str(weights),
                        "--format", "onnx", "--out", str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and "missing from the weights file" in err and "Traceback" not in err
    assert not bad.exists() and not list(tmp_path.glob(".bad.onnx*"))


def test_onnx_says_how_to_feed_it(tmp_path, capsys):
    """The ONNX file carries input layout, scaling, orientation and the source caffemodel's
    sha256 in metadata_props (read back through onnxruntime), and the command prints them."""
    import hashlib
    weights = tmp_path / "w.caffemodel"
    caffe_compat.Net(str(lq_models.get("hr").deploy_path), phase="test", seed=4).save(weights)
    out = tmp_path / "w.onnx"
    assert export.main(["--weights", str(weights), "--format", "onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta["source_caffemodel_sha256"] == sha and meta["source_caffemodel"] == "w.caffemodel"
    assert meta["input_layout"].startswith("NCHW float32: N x 1 x 96 x 96")
    assert "single(Y)/255" in meta["input_scaling"] and "rgb2ycbcr" in meta["input_scaling"]
    assert "transposed" in meta["input_orientation"]
    assert meta["input_name"] == "data" and meta["output_name"] == "fc5"
    assert meta["deploy"] == "cnnd_deploy.prototxt" and "valence" in meta["output"]
    runtime = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert runtime.get_modelmeta().custom_metadata_map == meta
    for key, value in meta.items():
        assert f"  {key}: {value}" in printed
    # the Python call stores the same description (no hash without the file's path)
    net = lq_models.load_net(weights)
    export.export_onnx(net, tmp_path / "p.onnx", dynamic_batch=False)
    meta2 = {p.key: p.value for p in onnx.load(str(tmp_path / "p.onnx")).metadata_props}
    assert "source_caffemodel_sha256" not in meta2 and "transposed" in meta2["input_orientation"]
    assert meta2["input_layout"] == "NCHW float32: 2 x 1 x 96 x 96"
