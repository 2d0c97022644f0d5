"""run_eval on an inference engine (caffe_compat.inference.engines) against the torch forward: the same
predictions within the engines' trust bound, RMSE / CC / CCC within 1e-6, frames/s of both."""
import numpy as np
import pytest

import caffe_compat
import lq_models
from matlab_ports.matfile import savemat
from matlab_ports.run_eval import run_eval


@pytest.fixture(scope="module")
def filler_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "cnnd.caffemodel"
    caffe_compat.Net(str(lq_models.get("hr").deploy_path), phase="test", seed=11).save(path)
    return path


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """Two sequences of random 96 x 96 frames in [0, 1] whose brightness runs from dark to
    full (so that a net of filler weights gives predictions that vary from frame to frame, not
    a constant that makes CC ill-conditioned), valence following the brightness."""
    folder = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(4)
    for k, n in ((1, 40), (2, 24)):
        level = np.linspace(0.05, 1.0, n)
        video = rng.random((96, 96, n)) * level
        valence = level[None, :] - 0.5 + 0.1 * rng.standard_normal((1, n))
        savemat(folder / f"dev_{k}.mat", {"video": video, "valence": valence})
    return folder


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
def test_run_eval_on_engine_matches_torch(engine, filler_weights, crops):
    from caffe_compat.inference.engines import installed_engines
    if engine not in installed_engines():
        pytest.skip(f"{engine} is not installed")
    ref = run_eval(None, filler_weights, crops, None, sequences="dev_1,dev_2", batch=16,
                   progress=False, engine="torch")
    got = run_eval(None, filler_weights, crops, None, sequences="dev_1,dev_2", batch=16,
                   progress=False, engine=engine)
    again = run_eval(None, filler_weights, crops, None, sequences="dev_1,dev_2", batch=16,
                     progress=False, engine=engine)     # export, check and timing cached
    assert ref.engine == "torch" and got.engine == engine and again.engine == engine
    print(f"run_eval CNN+D, batch 16: torch {ref.frames_per_second:.1f} frames/s, {engine} "
          f"{got.frames_per_second:.1f} frames/s at first use (export, check), "
          f"{again.frames_per_second:.1f} frames/s with them cached")
    p_ref = np.concatenate([s.prediction for s in ref.sequences])
    p_got = np.concatenate([s.prediction for s in got.sequences])
    # the engine's float32 sums in another order: within the trust bound, 1e-4 of the scale
    assert np.abs(p_got - p_ref).max() <= 1e-4 * np.abs(p_ref).max()
    assert np.std(p_ref) > 0.1 * np.abs(p_ref).max()       # predictions that vary
    for k in ("rmse", "cc_run_eval", "ccc_run_eval", "pearson_r", "ccc_avec"):
        # metrics of predictions that agree to ~1e-7 of their scale: equal within 1e-6
        assert abs(got.total[k] - ref.total[k]) <= 1e-6, k
