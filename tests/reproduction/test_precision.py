"""``--precision int8`` of the evaluation (python -m matlab_ports.run_eval) and the prediction
(python -m reproduction.predict): the CNN+D's int8 runner, and the precision in what they
write. The trained-net measurement (CCC of int8 within 0.01 of float32) is
tests/reproduction/test_precision_demo.py's."""
import json

import numpy as np
import pytest

import caffe_compat
import lq_models
from matlab_ports.matfile import savemat
from matlab_ports import precision as P
from matlab_ports.run_eval import main as run_eval_main, run_eval

pytest.importorskip("onnxruntime.quantization")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "cnnd.caffemodel"
    caffe_compat.Net(str(lq_models.get("hr").deploy_path), phase="test", seed=4).save(path)
    return path


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(0)
    for name in ("dev_1", "dev_2"):
        n = 8
        savemat(str(folder / f"{name}.mat"),
                {"video": rng.random((96, 96, n)).astype(np.float32),
                 "valence": rng.uniform(-0.5, 0.5, (1, n)),
                 "video_time": np.arange(n, dtype=np.float64)[None] / 25})
    return folder


def test_calibration_frames_spread():
    v = np.arange(96 * 96 * 10, dtype=np.float32).reshape(96, 96, 10)
    frames = P.calibration_frames(v, 4)
    assert frames.shape == (96, 96, 4)
    np.testing.assert_array_equal(frames[:, :, 1], v[:, :, 3])       # frames 0, 3, 6, 9
    with pytest.raises(Exception, match="precision 'int4'"):
        P.check_precision("int4")


def test_run_eval_int8(weights, crops, tmp_path, capsys):
    f32 = run_eval(None, weights, crops, progress=False)
    int8 = run_eval(None, weights, crops, progress=False, precision="int8")
    assert int8.precision == "int8" and f32.precision == "float32"
    assert "int8" in int8.engine
    a = np.concatenate([s.prediction for s in f32.sequences])
    b = np.concatenate([s.prediction for s in int8.sequences])
    assert np.abs(a - b).max() <= 0.15 * np.abs(a).max()     # untrained weights
    out = tmp_path / "out"
    assert run_eval_main(["--weights", str(weights), "--crops", str(crops), "--out", str(out),
                          "--quiet", "--precision", "int8"]) == 0
    assert "precision int8" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["precision"] == "int8"


def test_predict_int8(weights, tmp_path, capsys):
    from reproduction.predict import main, predict_video
    from reproduction.sample import make_sample
    sample = make_sample(tmp_path / "s", n_train=0, n_dev=1, n_frames=12, progress=False)
    files = sample["files"]["dev_1"]
    f32 = predict_video(files["video"], weights, boxes=files["bbox"], batch=8, progress=False)
    int8 = predict_video(files["video"], weights, boxes=files["bbox"], batch=8,
                         progress=False, precision="int8")
    assert (f32.precision, int8.precision) == ("float32", "int8")
    a, b = f32.valence, int8.valence
    assert np.array_equal(np.isnan(a), np.isnan(b)) and int8.n_faces > 0
    ok = ~np.isnan(a)
    # untrained weights: a few quantization steps apart
    assert np.abs(a[ok] - b[ok]).max() <= 0.15 * np.abs(a[ok]).max()
    assert main(["--video", files["video"], "--weights", str(weights), "--boxes",
                 files["bbox"], "--out", str(tmp_path / "o"), "--quiet", "--precision",
                 "int8"]) == 0
    assert "precision int8" in capsys.readouterr().out


def test_run_eval_and_predict_bf16(weights, crops, tmp_path, capsys):
    """``--precision bfloat16``: bf16 where the processor computes in it, float32 (said so, with
    one warning) where not; the precision written is the one that ran."""
    import warnings

    from caffe_compat.onnx_path import reduced
    from reproduction.predict import predict_video
    from reproduction.sample import make_sample
    hint, _ = reduced.capability()
    ran = reduced.HINTS[hint] if hint else "float32"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f32 = run_eval(None, weights, crops, progress=False)
        half = run_eval(None, weights, crops, progress=False, precision="bfloat16")
        out = tmp_path / "out"
        assert run_eval_main(["--weights", str(weights), "--crops", str(crops), "--out",
                              str(out), "--quiet", "--precision", "bfloat16"]) == 0
        sample = make_sample(tmp_path / "s", n_train=0, n_dev=1, n_frames=12, progress=False)
        files = sample["files"]["dev_1"]
        pred = predict_video(files["video"], weights, boxes=files["bbox"], batch=8,
                             progress=False, precision="bfloat16")
    assert half.precision == ran and pred.precision == ran
    a = np.concatenate([s.prediction for s in f32.sequences])
    b = np.concatenate([s.prediction for s in half.sequences])
    assert np.abs(a - b).max() <= 0.02 * np.abs(a).max()     # bf16: 8 bits of mantissa
    assert f"precision {ran}" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["precision"] == ran


def test_each_precision_where_its_device_runs_it(weights, crops):
    """int8 on the CPU, float16 on a CUDA device; ``--device cuda`` stops where torch sees no
    device (a job asking for a GPU does not run on the CPU unnoticed)."""
    import torch
    from matlab_ports.errors import PortError
    with pytest.raises(PortError, match="int8 runs on the CPU"):
        P.check_precision("int8", "cuda")
    with pytest.raises(PortError, match="float16 runs on a CUDA device"):
        P.check_precision("float16", "cpu")
    with pytest.raises(PortError, match="device 'tpu'"):
        P.check_precision("float32", "tpu")
    assert run_eval_main(["--weights", str(weights), "--crops", str(crops), "--out", "x",
                          "--quiet", "--precision", "float16"]) == 1
    if not torch.cuda.is_available():
        with pytest.raises(PortError, match="--device cuda: torch sees no CUDA device"):
            run_eval(None, weights, crops, progress=False, device="cuda")


@pytest.mark.cuda
@pytest.mark.parametrize("precision, bound", [("float32", 1e-5), ("float16", 0.01),
                                              ("bfloat16", 0.05)])
def test_run_eval_and_predict_on_the_cuda_device(weights, crops, tmp_path, precision, bound):
    """The evaluation and the prediction on the device: float32 within float32's rounding of
    the CPU's, float16 (11 bits of mantissa) and bfloat16 (8) within their own."""
    from reproduction.predict import predict_video
    from reproduction.sample import make_sample
    cpu = run_eval(None, weights, crops, progress=False)
    gpu = run_eval(None, weights, crops, progress=False, precision=precision, device="cuda",
                   out_dir=tmp_path / "out")
    assert gpu.precision == precision
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["precision"] == precision
    a = np.concatenate([s.prediction for s in cpu.sequences])
    b = np.concatenate([s.prediction for s in gpu.sequences])
    assert np.abs(a - b).max() <= bound * np.abs(a).max()
    sample = make_sample(tmp_path / "s", n_train=0, n_dev=1, n_frames=12, progress=False)
    files = sample["files"]["dev_1"]
    pred = predict_video(files["video"], weights, boxes=files["bbox"], batch=8, progress=False,
                         precision=precision, device="cuda")
    assert pred.precision == precision and pred.n_faces > 0
