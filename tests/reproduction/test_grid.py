"""The resolution x frame-rate grid: its rows, table and heat maps, and as pipeline steps
(with the CCC fine-tuning and the CNN-LSTM): resumed after a crash, skipped when done, re-run
when a setting changes, outputs never half-written."""
import os

import numpy as np
import pytest

from reproduction import grid as G
from reproduction import grid_steps as GS
from reproduction import recipes as R
from reproduction.pipeline import Config, Pipeline, ReproductionError


def test_rows_hold_predictions_on_the_full_grid():
    gold = [np.linspace(-1, 1, 12)]
    perfect = {"P": [gold[0].copy()]}
    rows = G.evaluate_s(3, gold, perfect, {}, divisors=(1, 4))
    assert [(r["divisor"], r["frames"], r["frames_received"]) for r in rows] == \
        [(1, 12, 12), (4, 12, 3)]
    # (run_eval.m's CCC mixes 1/N and 1/(N-1) moments: 11/12 for a perfect prediction)
    assert rows[0]["ccc_avec"] == pytest.approx(1.0) and rows[0]["rmse"] == 0.0
    assert rows[0]["ccc"] == pytest.approx(11 / 12)
    # at 1/4 of the frame rate the held prediction lags: frames 1-3 keep frame 0's value
    held = np.repeat(gold[0][::4], 4)
    assert rows[1]["rmse"] == pytest.approx(np.sqrt(np.mean((held - gold[0]) ** 2)))
    assert rows[1]["fps"] == 6.25 and rows[1]["resolution"] == "32x32"
    # a temporal model is called with the sequence and the received frames
    seen = []
    G.evaluate_s(1, gold, {}, {"T": lambda i, idx: seen.append(idx.tolist()) or gold[i][idx]},
                 divisors=(6,))
    assert seen == [[0, 6]]


def test_table_and_heat_maps(tmp_path):
    rows = []
    for s in (1, 3):
        rows += G.evaluate_s(s, [np.sin(np.arange(30) / 3)],
                             {"A": [np.sin(np.arange(30) / 3 + s / 10)]}, {}, (1, 2, 6))
    rows += G.evaluate_s(3, [np.sin(np.arange(30) / 3)], {"LR-s": [np.zeros(30)]}, {}, (1,))
    path = G.write_csv(rows, str(tmp_path / "g.csv"))
    back = G.read_csv(path)
    assert len(back) == 7 and back[0]["ccc"] == rows[0]["ccc"]
    md = G.to_markdown(back, ["note"])
    assert "| model | face | 25 fps | 12.5 fps | 4.17 fps |" in md
    # LR-s exists only at s = 3 and only at 25 fps: blank cells elsewhere (its constant
    # prediction has no CCC: nan)
    assert "| LR-s | 32x32 | nan |  |  |" in md and "| LR-s | 96x96" not in md
    G.plot(back, str(tmp_path / "g.png"), "ccc")
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_settings_errors(tmp_path, avec):
    cfg = Config(out=str(tmp_path), avec=str(tmp_path), methods=("hr",), factors=(3,))
    assert GS.settings(cfg) is None
    for bad, match in ((dict(factors=[5]), "--grid-factors"), (dict(divisors=[0]), "--divisors"),
                       (dict(T=0), "setting T"), (dict(windw=3), "unknown windw")):
        cfg.temporal = bad
        with pytest.raises(ReproductionError, match=match):
            GS.settings(cfg)
    assert R.parse_methods("lstm,hr,ccc") == ("hr", "lstm", "ccc")
    with pytest.raises(ReproductionError, match="hr or joint-oa"):
        Pipeline(Config(out=str(tmp_path), avec=str(avec), methods=("lr", "lstm"),
                        factors=(3,)), progress=False)


# --------------------------------------------------------------------------------------------
# the steps


@pytest.fixture(scope="module")
def avec(tmp_path_factory):
    from reproduction.sample import make_sample
    root = tmp_path_factory.mktemp("avec")
    make_sample(root, n_train=1, n_dev=1, n_frames=24, seed=0, progress=False)
    return root


TINY = R.Schedule("tiny", iters=(("cnnd", 4), ("lstm", 4), ("ccc", 3)), batch=2, snapshot=2,
                  test=False, chunk=2)
TEMPORAL = dict(factors=[1, 3], divisors=[1, 2, 6], window=5, T=4, stride=2, streams=2,
                hidden=8, ccc_batch=4)


def _run(cfg):
    lines = []
    pipe = Pipeline(cfg, log=lines.append, progress=False)
    pipe.run()
    status = {}
    for line in lines:
        if line.startswith("["):
            name = line.split("] ", 1)[1].split(":", 1)[0]
            status[name] = "skipped" if "skipped" in line else \
                "ran" if "finished" in line else status.get(name)
    return pipe, status


def _leftovers(folder):
    return [f for _, _, files in os.walk(folder) for f in files
            if ".tmp" in f or f.startswith(".") and f != ".key"]


@pytest.mark.slow           # a few tiny trainings and five pipeline runs: ~30 s quiet, minutes loaded
def test_grid_steps_resume_and_write_atomically(avec, tmp_path, monkeypatch):
    cfg = Config(out=str(tmp_path / "run"), avec=str(avec), methods=("hr", "lstm", "ccc"),
                 factors=(3,), schedule=TINY, seed=1, temporal=dict(TEMPORAL))
    real = G.evaluate_s

    def crash_at_s3(s, *a, **k):
        if s == 3:
            raise KeyboardInterrupt("killed in grid-s3")
        return real(s, *a, **k)
    monkeypatch.setattr(G, "evaluate_s", crash_at_s3)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg)
    pipe = Pipeline(cfg, log=lambda line: None, progress=False)
    assert pipe.is_done("train-ccc") and pipe.is_done("train-lstm") and pipe.is_done("grid-s1")
    assert not pipe.is_done("grid-s3") and not os.path.exists(pipe.path("grid", "grid.csv"))

    monkeypatch.setattr(G, "evaluate_s", real)
    pipe, status = _run(cfg)
    assert status["grid-s1"] == "skipped" and status["train-lstm"] == "skipped"
    assert status["grid-s3"] == "ran" and status["grid"] == "ran"
    out = pipe.outputs("grid")
    rows = G.read_csv(out["csv"])
    models = {r["model"] for r in rows}
    assert models == {"HR", "HR+CCC", "HR+Eucl-ft", "HR+mean", "HR+median", "HR+LSTM"}
    # every model at both factors and three frame rates
    assert len(rows) == len(models) * 2 * 3
    assert len({r["frames"] for r in rows}) == 1 and rows[0]["frames"] > 12
    for f in ("markdown", "ccc_png", "cc_png"):
        assert os.path.getsize(out[f]) > 0
    assert any("LSTM" in line for line in out["findings"])
    first = open(out["csv"]).read()

    # nothing to do the second time
    _, status = _run(cfg)
    assert set(status.values()) == {"skipped"}

    # a changed window re-runs the grid steps only; a crash while the heat maps are written
    # leaves the previous complete files, no temporary file, and no stamp
    cfg.temporal["window"] = 9

    def crash(*a, **k):
        raise KeyboardInterrupt("killed while plotting")
    monkeypatch.setattr(G, "plot", crash)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg)
    pipe = Pipeline(cfg, log=lambda line: None, progress=False)
    assert pipe.is_done("grid-s1") and pipe.is_done("grid-s3") and not pipe.is_done("grid")
    assert G.read_csv(out["csv"]) and _leftovers(pipe.path("grid")) == []
    assert _leftovers(pipe.path("work")) == []
    monkeypatch.undo()
    pipe, status = _run(cfg)
    assert status["train-lstm"] == "skipped" and status["train-ccc"] == "skipped"
    assert status["train-ccc-control"] == "skipped"
    assert status["grid"] == "ran"
    assert open(pipe.outputs("grid")["csv"]).read() != first


def test_demo_temporal_reuses_the_demo_and_cli_errors(tmp_path, capsys):
    from reproduction.__main__ import main
    from reproduction.demo import demo_config
    plain = Pipeline(demo_config(str(tmp_path)), progress=False)
    temporal = Pipeline(demo_config(str(tmp_path), temporal=True), progress=False)
    added = [n for n in temporal.order() if n not in plain.steps]
    assert added == ["train-ccc", "train-ccc-control", "lstm-data", "train-lstm", "grid-s1",
                     "grid-s3", "grid-s6", "grid-s12", "grid"]
    # `demo --temporal` after `demo` in the same folder: every step of the demo but the
    # table (its methods list grew) keeps its key, so it is skipped
    changed = [n for n in plain.steps if plain.key(n) != temporal.key(n)]
    assert changed == ["table"]
    assert temporal.steps["grid-s3"].params["models"] == {
        "HR": "hr", "LR-s": "lr-3", "Joint-OA": "joint-oa", "Joint-OA+CCC": "ccc",
        "Joint-OA+Eucl-ft": "ccc-control"}
    assert temporal.steps["train-ccc"].deps == ("h5-mix-3-4-6", "train-joint-oa")
    assert main(["grid", "--out", str(tmp_path / "none")]) == 1
    assert "pipeline.json not found" in capsys.readouterr().err
    assert main(["reproduce", "--sample", "--out", str(tmp_path / "o"), "--methods", "lr,lstm",
                 "--factors", "3", "--no-figure4"]) == 1
    assert "hr or joint-oa" in capsys.readouterr().err
