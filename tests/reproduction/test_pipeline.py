"""Recipes per method, LR crops, and the pipeline's step skipping, resume and re-runs."""
import os

import numpy as np
import pytest

import lq_models
from reproduction import recipes as R
from reproduction.pipeline import (Config, Pipeline, ReproductionError, derive_lr_crops,
                                   latest_snapshot)

# --------------------------------------------------------------------------------------------
# recipes


def test_recipe_per_method():
    hr = R.recipe("hr")
    assert hr.data == ("hr",) and hr.init_from is None and hr.max_iter == 30000
    assert hr.net.endswith("cnnd_train_val.prototxt")
    assert hr.solver.endswith("cnnd_solver.prototxt")
    assert hr.table_rows == ((None, "HR"),)
    lr = R.recipe("lr-4")
    assert lr.data == ("lr", 4) and lr.init_from is None and lr.max_iter == 30000
    nj = R.recipe("nonjoint-6")
    assert nj.data == ("lr", 6) and nj.init_from == "srfcn-6" and nj.lr_mult == 0.0
    assert nj.init_layers == ("conv1", "conv2", "conv3") and nj.max_iter == 120000
    assert nj.net.endswith("cnnd_nonjoint_train_val.prototxt")
    j = R.recipe("joint-3")
    assert j.data == ("lr", 3) and j.init_from == "srfcn-3" and j.lr_mult == 0.1
    assert j.max_iter == 60000 and j.net.endswith("cnnd_joint_train_val.prototxt")
    oa = R.recipe("joint-oa")
    assert oa.data == ("mix", (3, 4, 6)) and oa.init_from == "srfcn-6" and oa.lr_mult == 0.1
    assert oa.max_iter == 60000 and len(oa.table_rows) == 6
    sr = R.recipe("srfcn-12")
    assert sr.data == ("sr", 12) and sr.max_iter == 500000 and sr.base_lr is None
    assert sr.deploy.endswith("srfcn_deploy.prototxt")


def test_recipes_agree_with_the_nets_lr_mults():
    # the lr_mult a recipe records is the one its net file holds for conv1-conv3
    for key in ("nonjoint-4", "joint-4", "joint-oa"):
        rec = R.recipe(key)
        mults = lq_models.get(key).train_lr_mults
        for layer in rec.init_layers:
            # the prototxt's lr_mult is a float32 field
            assert mults[layer][0] == float(np.float32(rec.lr_mult)), (key, layer)
        assert mults["fc4"][0] == 1.0


def test_schedules_scale_iterations():
    q = R.recipe("joint-3", "quick")
    assert q.max_iter == 600 and q.test is False
    sr = R.recipe("srfcn-3", "quick")
    assert sr.max_iter == 5000 and sr.base_lr == 0.01
    d = R.recipe("lr-3", "demo")
    assert d.max_iter == dict(R.SCHEDULES["demo"].iters)["cnnd"] and d.batch_size == 8
    assert R.recipe("srfcn-6", "demo").weight_filler == "xavier"
    custom = R.Schedule("x", iter_scale=0.5, iters=(("srfcn", 7),))
    assert R.recipe("hr", custom).max_iter == 15000
    assert R.recipe("srfcn-4", custom).max_iter == 7


def test_sr_learning_rate_choices():
    assert R.recipe("srfcn-6", R.Schedule("p", sr_lr="published")).base_lr is None
    assert R.recipe("srfcn-6", R.Schedule("p", sr_lr="paper")).base_lr == 0.01
    assert R.recipe("srfcn-6", R.Schedule("n", sr_lr="3e-4")).base_lr == 3e-4
    assert R.recipe("lr-6", R.Schedule("n", sr_lr="3e-4")).base_lr is None
    for bad in ("fast", "0", "-1e-4", "nan", "inf"):
        with pytest.raises(R.RecipeError, match="sr_lr must be"):
            R.Schedule("bad", sr_lr=bad)


def test_sr_solver_choice_reaches_the_solver_file():
    from reproduction.training import _solver_param
    long_sr = R.recipe("srfcn-6", "long")
    assert long_sr.solver_type == "Adam" and long_sr.base_lr == 1e-4
    param = _solver_param(long_sr, 1, "/tmp/x", False)
    # Caffe's AdamSolver reads beta1 from momentum, beta2 from momentum2, epsilon from delta
    assert (param.type, param.base_lr, param.momentum, param.momentum2, param.delta) == \
        ("Adam", pytest.approx(1e-4), pytest.approx(0.9), pytest.approx(0.999),
         pytest.approx(1e-8))
    # the other families and the published schedules keep the solver file's SGD, and a
    # finished run's recorded recipe (no solver_type) still matches
    assert R.recipe("lr-6", "long").solver_type is None
    demo_sr = R.recipe("srfcn-6", "demo")
    assert demo_sr.solver_type is None and "solver_type" not in demo_sr.params()
    assert _solver_param(demo_sr, 1, "/tmp/x", False).type in ("", "SGD")
    assert "Adam solver" in long_sr.describe()
    with pytest.raises(R.RecipeError, match="sr_solver must be one of"):
        R.Schedule("bad", sr_solver="adam")


def test_plan_puts_sr_fcns_first_and_maxmix():
    keys = [r.key for r in R.plan("hr,joint,joint-oa", "3")]
    # Joint-OA needs the SR-FCN at max(mix) = 6 even when only s = 3 is asked for
    assert keys == ["srfcn-3", "srfcn-6", "hr", "joint-3", "joint-oa"]
    keys = [r.key for r in R.plan("joint-oa", "16", mix=(3, 4))]
    assert keys == ["srfcn-4", "joint-oa"]
    evs = [e.name for e in R.evaluations("hr,lr,joint-oa", "3,6")]
    assert evs == ["hr@hr", "lr-3@s3", "joint-oa@s3", "lr-6@s6", "joint-oa@s6"]


@pytest.mark.parametrize("methods,factors,match", [
    ("hr,bogus", "3", "--methods"), ("hr", "5", "--factors"), ("hr", "x", "--factors"),
    ("", "3", "--methods")])
def test_bad_methods_and_factors(methods, factors, match):
    with pytest.raises(R.RecipeError, match=match):
        R.plan(methods, factors)


# --------------------------------------------------------------------------------------------
# the tiny sample


@pytest.fixture(scope="module")
def avec(tmp_path_factory):
    from reproduction.sample import make_sample
    root = tmp_path_factory.mktemp("avec")
    make_sample(root, n_train=1, n_dev=1, n_frames=24, seed=0, progress=False)
    return root


def test_lr_crops_derived_equal_prepare_dataset_factor(avec, tmp_path):
    from matlab_ports.matfile import loadmat
    from matlab_ports.prepare_dataset import prepare_dataset
    seqs = ["train_1", "dev_1"]
    prepare_dataset(avec, tmp_path / "hr", sequences=seqs, progress=False)
    for s in (3, 12):
        prepare_dataset(avec, tmp_path / f"pd{s}", sequences=seqs, factor=s, progress=False)
        derive_lr_crops(tmp_path / "hr", tmp_path / f"lr{s}", s, seqs, progress=False)
        for name in seqs:
            a = loadmat(tmp_path / f"pd{s}" / f"{name}.mat")
            b = loadmat(tmp_path / f"lr{s}" / f"{name}.mat")
            # the same single-precision MATLAB bicubic arithmetic on the same crops: exact
            assert a["video"].dtype == b["video"].dtype == np.float64
            np.testing.assert_array_equal(a["video"], b["video"])
            np.testing.assert_array_equal(a["valence"], b["valence"])
            np.testing.assert_array_equal(a["video_time"], b["video_time"])
    # crops saved as single (the pipeline's default) hold the same values
    prepare_dataset(avec, tmp_path / "hr1", sequences=seqs, video_class="single",
                    progress=False)
    derive_lr_crops(tmp_path / "hr1", tmp_path / "lr1", 12, seqs, progress=False)
    for name in seqs:
        a = loadmat(tmp_path / "pd12" / f"{name}.mat")["video"]
        b = loadmat(tmp_path / "lr1" / f"{name}.mat")["video"]
        assert b.dtype == np.float32
        np.testing.assert_array_equal(a, b.astype(np.float64))


TINY = R.Schedule("tiny", iters=(("cnnd", 6),), batch=2, snapshot=2, test=False, chunk=2)


def _config(out, avec, schedule=TINY):
    return Config(out=str(out), avec=str(avec), methods=("hr",), factors=(3,),
                  schedule=schedule, seed=1)


class _Killed(Exception):
    pass


class _KillAt:
    def __init__(self, at):
        self.at = at

    def on_iteration_end(self, solver, loss):
        if solver.iter == self.at:
            raise _Killed(f"killed at iteration {solver.iter}")


def _run(config, callbacks=()):
    lines = []
    pipe = Pipeline(config, callbacks=callbacks, log=lines.append, progress=False)
    pipe.run()
    return pipe, lines


def _status(lines):
    out = {}
    for line in lines:
        if line.startswith("["):
            name = line.split("] ", 1)[1].split(":", 1)[0]
            if "skipped" in line:
                out[name] = "skipped"
            elif "finished" in line:
                out[name] = "ran"
    return out


def test_kill_resume_skip_and_rerun(avec, tmp_path):
    # reference: one uninterrupted run
    ref, _ = _run(_config(tmp_path / "ref", avec))
    ref_weights = open(ref.outputs("train-hr")["weights"], "rb").read()

    # a run killed inside the training step, after the snapshot of iteration 4
    cfg = _config(tmp_path / "run", avec)
    with pytest.raises(_Killed):
        _run(cfg, [_KillAt(5)])
    pipe = Pipeline(cfg, log=lambda line: None, progress=False)
    assert pipe.is_done("crops-hr") and pipe.is_done("h5-hr")
    assert not pipe.is_done("train-hr") and not pipe.is_done("table")
    prefix = os.path.join(pipe.path("work", "train-hr"), "hr")
    assert latest_snapshot(prefix)[0] == 4
    # only the newest snapshot is kept
    assert not os.path.exists(prefix + "_iter_2.caffemodel")

    # rerun: finished steps skipped, training resumes from iteration 4
    pipe, lines = _run(cfg)
    status = _status(lines)
    assert status["crops-hr"] == "skipped" and status["h5-hr"] == "skipped"
    assert status["train-hr"] == "ran" and status["table"] == "ran"
    assert pipe.outputs("train-hr")["resumed_from"] == 4
    # exact resume (data position and random streams restored): bit-identical weights on CPU
    assert open(pipe.outputs("train-hr")["weights"], "rb").read() == ref_weights
    assert [r for r in open(pipe.path("models", "hr_loss.csv"))] == \
        [r for r in open(ref.path("models", "hr_loss.csv"))]

    # nothing to do on a third run
    _, lines = _run(cfg)
    assert set(_status(lines).values()) == {"skipped"}

    # a changed training parameter re-runs that training and what depends on it, only
    cfg2 = _config(tmp_path / "run", avec, TINY.replace(iters=(("cnnd", 8),)))
    pipe, lines = _run(cfg2)
    status = _status(lines)
    assert status["crops-hr"] == "skipped" and status["h5-hr"] == "skipped"
    assert status["train-hr"] == "ran" and status["eval-hr@hr"] == "ran"
    assert status["table"] == "ran"
    assert pipe.outputs("train-hr")["iterations"] == 8
    assert os.path.isfile(pipe.path("table1.md")) and os.path.isfile(pipe.path("table1.png"))


def test_config_errors(tmp_path, avec):
    with pytest.raises(ReproductionError, match="--avec"):
        Pipeline(Config(out=str(tmp_path), avec=str(tmp_path / "nope")), progress=False)
    with pytest.raises(ReproductionError, match="one of the two"):
        Pipeline(Config(out=str(tmp_path)), progress=False)
    with pytest.raises(ReproductionError, match="--sr-images"):
        Pipeline(Config(out=str(tmp_path), avec=str(avec), sr_images=str(tmp_path / "x")),
                 progress=False)
    with pytest.raises(ReproductionError, match="--rd-factors"):
        Pipeline(Config(out=str(tmp_path), avec=str(avec), factors=(6,),
                        figure4=dict(factors=[3], qps=[20])), progress=False)
    with pytest.raises(ReproductionError, match="--device"):
        Pipeline(Config(out=str(tmp_path), avec=str(avec), device="tpu"), progress=False)
