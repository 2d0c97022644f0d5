"""run_eval.m / eval_video.m port: orientation against real Caffe, metric formulas, outputs,
bad input."""
import csv
import json
import os

import numpy as np
import pytest
import torch

import caffe_compat
import lq_models
from matlab_ports import avec
from matlab_ports.errors import PortError, PortFileError
from matlab_ports.matfile import loadmat, savemat
from matlab_ports.run_eval import (all_metrics, default_sequences, load_crops, main, run_eval,
                                   video_to_blob)
from tests.conftest import fixture_path

# Caffe (OpenBLAS im2col+GEMM) vs our forward on the same input: float32 summation order
# (caffe-reference README's suggested bound for forward outputs).
CAFFE_RTOL = 1e-5
# Metrics vs an independent NumPy evaluation of the same formulas in float64: only the order
# of the sums differs.
METRIC_ATOL = 1e-12


def make_crops(sample, name, out_dir, size=96):
    """prepare_dataset.m for one sequence of the bundled sample: <name>.mat with video
    (size x size x N double, as the script's zeros() makes it), valence and video_time (1xN)."""
    from reproduction.predict import crop_face, decode_frames, luma
    files = sample["files"][name]
    bbox, bbox_time = avec.read_bbox_mat(files["bbox"])
    gsd, gsd_time = avec.read_gsd_mat(files["gsd"])
    frame_time = avec.read_frame_times(files["frame_time"])
    faces, valence, times = [], [], []
    for (_, _, rgb), real_time in zip(decode_frames(files["video"]), frame_time[:, 1]):
        i = np.flatnonzero(bbox_time == real_time)
        j = np.flatnonzero(gsd_time == real_time)
        assert i.size and j.size, "No matched bbox or gsd!"
        box = bbox[i[0]]
        if box.sum() != 0 and box[2] > 100 and box[3] > 100:
            faces.append(crop_face(luma(rgb), box, size))
            valence.append(gsd[j[0]])
            times.append(real_time)
    path = os.path.join(out_dir, f"{name}.mat")
    savemat(path, {"video": np.stack(faces, axis=2).astype(np.float64),
                   "valence": np.array(valence)[None, :], "video_time": np.array(times)[None, :]})
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from reproduction.sample import make_sample
    return make_sample(tmp_path_factory.mktemp("sample"), n_train=0, n_dev=2, n_frames=24,
                       progress=False)


@pytest.fixture(scope="module")
def crops96(sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crops96")
    for name in sample["sequences"]:
        make_crops(sample, name, str(folder))
    return folder


@pytest.fixture(scope="module")
def filler_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "cnnd.caffemodel"
    caffe_compat.Net(str(lq_models.get("hr").deploy_path), phase="test", seed=11).save(path)
    return path


def _numpy_script_metrics(g, p):
    """run_eval.m's three formulas written out independently with NumPy."""
    g = np.asarray(g, np.float64)
    p = np.asarray(p, np.float64)
    rmse = np.sqrt(np.sum((p - g) ** 2) / g.size)
    cc = np.mean((g - g.mean()) * (p - p.mean())) / (np.std(g, ddof=1) * np.std(p, ddof=1))
    ccc = 2 * cc * np.std(g, ddof=1) * np.std(p, ddof=1) / (
        np.var(g, ddof=1) + np.var(p, ddof=1) + (g.mean() - p.mean()) ** 2)
    pearson = np.corrcoef(g, p)[0, 1]
    cov = np.mean((g - g.mean()) * (p - p.mean()))
    ccc_avec = 2 * cov / (np.var(g) + np.var(p) + (g.mean() - p.mean()) ** 2)
    return {"rmse": rmse, "cc_run_eval": cc, "ccc_run_eval": ccc, "pearson_r": pearson,
            "ccc_avec": ccc_avec}


def test_orientation_reproduces_caffe_fc5(tmp_path):
    """video(:,:,1) = the fixture input transposed must give Caffe's fc5: matcaffe read MATLAB's
    first dimension as the blob's width."""
    ref = fixture_path("caffe-reference", "forward", "deploy_cnnd")
    x = np.load(ref / "input.npz")["data"][0, 0]
    fc5 = float(np.load(ref / "blobs.npz")["fc5"].ravel()[0])
    assert not np.allclose(x, x.T)                       # the fixture face is asymmetric
    crops = tmp_path / "crops"
    crops.mkdir()
    video = np.stack([x.T, x], axis=2).astype(np.float32)   # frame 2: not transposed
    savemat(crops / "dev_1.mat", {"video": video, "valence": np.array([[0.1, 0.2]]),
                                  "video_time": np.array([[0.0, 0.04]])})
    res = run_eval(None, ref / "init.caffemodel", crops, None, progress=False)
    pred = res.sequence("dev_1").prediction
    assert abs(pred[0] - fc5) <= CAFFE_RTOL * abs(fc5)
    assert abs(pred[1] - fc5) > 100 * CAFFE_RTOL * abs(fc5)  # the other orientation is wrong
    blob = video_to_blob(video)
    assert np.array_equal(blob[0, 0], x)


def test_real_caffe_weights_on_sample_crops(crops96, tmp_path):
    """The 96x96 CNN+D written by real Caffe, identified, loaded and evaluated; metrics equal
    an independent NumPy computation of run_eval.m's formulas."""
    weights = fixture_path("caffe-reference", "forward", "deploy_cnnd", "init.caffemodel")
    arch, candidates = lq_models.identify(weights)
    assert arch.startswith("CNN+D regressor, 96x96") and candidates[0].key == "hr"
    out = tmp_path / "out"
    res = run_eval(str(lq_models.get("hr").deploy_path), weights, crops96, out, batch=7,
                   save_feature=True, progress=False)
    assert [s.name for s in res.sequences] == ["dev_1", "dev_2"]
    for s in res.sequences:
        want = _numpy_script_metrics(s.ground_truth, s.prediction)
        for k, v in want.items():
            assert s.metrics[k] == pytest.approx(v, abs=METRIC_ATOL, rel=0), (s.name, k)
    g = np.concatenate([s.ground_truth for s in res.sequences])
    p = np.concatenate([s.prediction for s in res.sequences])
    for k, v in _numpy_script_metrics(g, p).items():
        assert res.total[k] == pytest.approx(v, abs=METRIC_ATOL, rel=0), k
    # the script's CC is Pearson scaled by (N-1)/N (its mean of products is normalised by N)
    n = g.size
    assert res.total["cc_run_eval"] == pytest.approx(res.total["pearson_r"] * (n - 1) / n,
                                                     abs=METRIC_ATOL)
    # outputs
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert len(rows) == n and rows[0]["sequence"] == "dev_1" and rows[0]["frame"] == "1"
    assert float(rows[-1]["prediction"]) == p[-1]           # repr round-trips exactly
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["all"]["frames"] == n
    assert metrics["all"]["ccc_run_eval"] == res.total["ccc_run_eval"]
    assert set(metrics["definitions"]) == set(res.total)
    for name in ("dev_1", "dev_2", "all"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # features: the 300 x N fc4 blob (after ReLU), as eval_video.m collects it
    feat = loadmat(out / "features" / "dev_1.mat")["feature"]
    crops = load_crops(crops96 / "dev_1.mat")
    net = lq_models.load_net(weights)
    with torch.no_grad():
        net.forward(data=torch.from_numpy(video_to_blob(crops.video[:, :, :3])))
    assert feat.shape == (300, crops.video.shape[2])
    # batch 7 vs batch 3: the same per-frame arithmetic up to float32 GEMM blocking
    np.testing.assert_allclose(feat[:, :3], net.blobs["fc4"].data.numpy().T, rtol=1e-5,
                               atol=1e-6)


def test_42px_snapshot_on_42px_crops(sample, tmp_path, capsys):
    """The 42x42-input CNN+D snapshot of real Caffe: the net's input follows the crops."""
    weights = fixture_path("caffe-reference", "forward", "cnnd_trainval_test",
                           "init.caffemodel")
    crops = tmp_path / "crops42"
    crops.mkdir()
    make_crops(sample, "dev_1", str(crops), size=42)
    out = tmp_path / "out"
    assert main(["--weights", str(weights), "--crops", str(crops), "--out", str(out),
                 "--quiet", "--batch", "5"]) == 0
    printed = capsys.readouterr().out
    assert "29x29 to 44x44" in printed and "frames/s" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    g = np.array([float(r["ground_truth"]) for r in rows])
    p = np.array([float(r["prediction"]) for r in rows])
    assert np.all(np.isfinite(p)) and metrics["batch"] == 5
    want = _numpy_script_metrics(g, p)
    for k, v in want.items():
        assert metrics["sequences"]["dev_1"][k] == pytest.approx(v, abs=METRIC_ATOL), k
    # an SR-FCN is not a valence regressor: refused with the reason
    sr = fixture_path("caffe-reference", "forward", "deploy_srcnn", "init.caffemodel")
    with pytest.raises(PortError, match="does not output one valence per frame.*SR-FCN"):
        run_eval(None, sr, crops, None, progress=False)


def test_wrong_weights_for_the_crops_writes_nothing(crops96, tmp_path, capsys):
    weights = fixture_path("caffe-reference", "forward", "cnnd_trainval_test",
                           "init.caffemodel")
    out = tmp_path / "out"
    with pytest.raises(lq_models.IncompatibleWeightsError, match="fc4") as info:
        run_eval(None, weights, crops96, out, progress=False)
    assert "29x29 to 44x44" in str(info.value) and "96x96" in str(info.value)
    assert not out.exists()
    code = main(["--weights", str(weights), "--crops", str(crops96), "--out", str(out),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err
    assert not out.exists()


def test_bad_crops_files(tmp_path, filler_weights, capsys):
    crops = tmp_path / "crops"
    crops.mkdir()
    rng = np.random.default_rng(0)
    savemat(crops / "dev_1.mat", {"video": rng.random((96, 96, 3)), "valence": rng.random((1, 3))})
    savemat(crops / "dev_2.mat", {"video": rng.random((96, 96, 3))})
    out = tmp_path / "out"
    with pytest.raises(PortFileError, match=r"dev_2\.mat: missing variable\(s\) valence"):
        run_eval(None, filler_weights, crops, out, progress=False)
    assert not out.exists()                    # dev_1 was evaluated, but nothing is written
    savemat(crops / "dev_2.mat", {"valence": rng.random((1, 3))})
    assert main(["--weights", str(filler_weights), "--crops", str(crops), "--out", str(out),
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "dev_2.mat: missing variable(s) video" in err and "video_time" in err
    assert not out.exists()
    savemat(crops / "dev_2.mat", {"video": rng.random((96, 96, 3)), "valence": rng.random((1, 4))})
    with pytest.raises(PortFileError, match="'valence' has 4 values but video has 3 frames"):
        load_crops(crops / "dev_2.mat")
    with pytest.raises(PortFileError, match="no such crops file"):
        run_eval(None, filler_weights, crops, out, sequences="dev_1,dev_7", progress=False)
    with pytest.raises(PortError, match="no dev_"):
        default_sequences(tmp_path)


def test_sequence_order_single_frame_and_batching(tmp_path, filler_weights):
    crops = tmp_path / "crops"
    crops.mkdir()
    rng = np.random.default_rng(1)
    for k in (10, 2, 1):
        n = 1 if k == 2 else 5
        video = rng.random((96, 96, n)).astype(np.float32)
        savemat(crops / f"dev_{k}.mat", {"video": video if n > 1 else video[:, :, 0],
                                         "valence": rng.random((1, n))})
    assert default_sequences(crops) == ["dev_1", "dev_2", "dev_10"]
    a = run_eval(None, filler_weights, crops, None, batch=1, progress=False)
    b = run_eval(None, filler_weights, crops, None, batch=64, progress=False)
    assert a.sequence("dev_2").frames == 1 and a.sequence("dev_2").time is None
    assert np.isnan(a.sequence("dev_2").metrics["cc_run_eval"])   # std of one value is 0
    # frame-by-frame (eval_video.m) vs batched: float32 GEMM blocking may differ in the last bits
    np.testing.assert_allclose(np.concatenate([s.prediction for s in a.sequences]),
                               np.concatenate([s.prediction for s in b.sequences]),
                               rtol=1e-5, atol=1e-7)
    for k in range(1, 10):
        if not (crops / f"dev_{k}.mat").exists():
            savemat(crops / f"dev_{k}.mat", {"video": np.zeros((96, 96, 2)),
                                             "valence": np.zeros((1, 2))})
    assert default_sequences(crops) == [f"dev_{k}" for k in range(1, 10)]   # the script's list


def test_metric_definitions_on_known_values():
    g = np.array([0.0, 1.0, 2.0, 3.0])
    p = np.array([0.5, 1.0, 2.5, 2.0])
    m = all_metrics(g, p)
    # by hand: both means are 1.5; dg = -1.5 -.5 .5 1.5, dp = -1 -.5 1 .5;
    # sum dg*dp = 1.5 + .25 + .5 + .75 = 3, sum dg^2 = 5, sum dp^2 = 2.5
    assert m["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 0.25 + 1) / 4), abs=METRIC_ATOL)
    assert m["pearson_r"] == pytest.approx(3 / np.sqrt(5 * 2.5), abs=METRIC_ATOL)
    assert m["cc_run_eval"] == pytest.approx((3 / 4) / np.sqrt(5 / 3 * 2.5 / 3),
                                             abs=METRIC_ATOL)
    assert m["ccc_run_eval"] == pytest.approx(2 * (3 / 4) / (5 / 3 + 2.5 / 3), abs=METRIC_ATOL)
    assert m["ccc_avec"] == pytest.approx(2 * (3 / 4) / (5 / 4 + 2.5 / 4), abs=METRIC_ATOL)


def test_caffe_order_predictions_are_caffes_bits(tmp_path, monkeypatch):
    """run_eval --caffe-order: every convolution and inner product summed in Caffe's order, so
    the prediction is our Caffe-order forward of the face, bit for bit, orientation included,
    and Caffe's fc5 bit for bit (tolerance 0) when the fixture was written with the OpenBLAS
    kernels whose order blas_order follows (fixture.json's kernel_family; per layer, the
    bit identity with those kernels is test_exact_gemm.py's); with other kernels (an AVX2
    machine's), within the forward tolerance."""
    from caffe_compat.kernels import blas_order, caffe_products
    if not blas_order.available():
        pytest.skip("the _exact_gemm extension is not built")
    ref = fixture_path("caffe-reference", "forward", "deploy_cnnd")
    x = np.load(ref / "input.npz")["data"][0, 0]
    fc5 = np.load(ref / "blobs.npz")["fc5"].ravel()[0]
    family = json.loads((ref / "fixture.json").read_text()).get("kernel_family",
                                                                caffe_products.KERNEL_FAMILY)
    crops = tmp_path / "crops"
    crops.mkdir()
    savemat(crops / "dev_1.mat", {"video": x.T[:, :, None].astype(np.float64),
                                  "valence": np.array([[0.1]]), "video_time": np.array([[0.0]])})
    monkeypatch.setattr(blas_order, "INFERENCE", False)
    out = tmp_path / "out"
    assert main(["--weights", str(ref / "init.caffemodel"), "--crops", str(crops), "--out",
                 str(out), "--quiet", "--caffe-order"]) == 0
    assert blas_order.INFERENCE
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    pred = np.float32(float(rows[0]["prediction"]))
    net = caffe_compat.Net(str(ref / "net.prototxt"), str(ref / "init.caffemodel"), phase="test")
    with torch.no_grad():
        ours = net.forward(data=x[None, None])["fc5"].numpy().ravel()[0]
    assert pred == ours
    if family == caffe_products.KERNEL_FAMILY:
        assert pred == fc5
    else:
        assert abs(pred - fc5) <= CAFFE_RTOL * abs(fc5)


def test_batches_side_by_side_equal_a_single_threaded_run():
    """eval_video runs whole batches on parallel workers of one thread each: predictions and
    features equal a single-threaded run bit for bit, the last partial batch included."""
    from caffe_compat import Net
    from matlab_ports.run_eval import eval_video
    net = Net(str(lq_models.get("hr").deploy_path), phase="test", seed=0)
    video = np.random.default_rng(0).random((96, 96, 45)).astype(np.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        ref, ref_f = eval_video(net, video, 16, True, workers=1)
        torch.set_num_threads(2)
        ours, ours_f = eval_video(net, video, 16, True, workers=2)
        assert torch.get_num_threads() == 2          # restored after the pass
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(ours, ref) and np.array_equal(ours_f, ref_f)
