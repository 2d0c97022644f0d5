"""demo --budget long: its plan and budget, and a tiny run of two seeds (slow pass; the
three seeds of the real budget are its plan, checked above it)."""
import json
import os

import pytest

from reproduction import long_budget as L
from reproduction import recipes as R


def test_long_plan_and_budget():
    configs = L.long_configs("/x/demo_long")
    assert [c.seed for c in configs] == [1, 2, 3]
    assert configs[0].sample is not None and configs[0].factors == (6, 12)
    # the other seeds read the first seed's sample: the same faces and dev frames
    assert all(c.sample is None and c.avec == "/x/demo_long/seed-1/sample"
               for c in configs[1:])
    keys = [r.key for r in R.plan(configs[0].methods, configs[0].factors, configs[0].schedule)]
    assert keys == ["srfcn-6", "srfcn-12", "hr", "lr-6", "nonjoint-6", "joint-6", "lr-12",
                    "nonjoint-12", "joint-12", "joint-oa"]
    assert configs[0].figure4["factors"] == [6]
    # the budget: at most 60 minutes on 2 cores; the cost model's estimate of the
    # training and evaluation (the data steps add about 3 minutes) stays under 55
    assert 40 * 60 < L.estimate(configs) < 55 * 60


@pytest.mark.slow
def test_tiny_long_run(tmp_path):
    tiny = R.SCHEDULES["long"].replace(iters=(("srfcn", 2), ("cnnd", 2), ("nonjoint", 2),
                                              ("joint", 2)), snapshot=1)
    out = tmp_path / "long"
    lines = []
    # two seeds exercise everything a third would (the second reads the first's sample, the
    # intervals draw seeds), for two thirds of the time
    res = L.run_long(str(out), progress=False, log=lines.append, schedule=tiny, seeds=(1, 2),
                     sample=dict(n_train=3, n_dev=2, n_frames=40, seed=0), resamples=200)
    for k in (1, 2):
        assert (out / f"seed-{k}" / "table1.md").is_file()
    assert (out / "loss_curves.png").is_file() and (out / "long_summary.md").is_file()
    summary = json.loads((out / "long_summary.json").read_text())
    assert summary["verdicts"]["seeds"] == 2
    cells = {(c["s"], c["method"]): c["ccc"] for c in summary["verdicts"]["cells"]}
    assert (6, "Joint-6") in cells and cells[(None, "HR")]["unit"].endswith("x seeds")
    text = "\n".join(lines)
    assert "SR-FCN at s=6" in text and "Joint-OA ahead of LR-12" in text
    # a rerun resumes: every step of every seed is skipped
    lines.clear()
    L.run_long(str(out), progress=False, log=lines.append, schedule=tiny, seeds=(1, 2),
               sample=dict(n_train=3, n_dev=2, n_frames=40, seed=0), resamples=200)
    steps = [x for x in lines if x.startswith("[")]
    assert steps and all("done earlier, skipped" in x for x in steps)
    assert os.path.isfile(res["files"]["summary"])


def test_cli_budget_option(monkeypatch, tmp_path):
    """``demo --budget long`` runs the long budget into demo_long (or --out); a bad budget is
    argparse's error."""
    from reproduction import __main__ as M
    calls = []
    monkeypatch.setattr(L, "run_long", lambda out, **kw: calls.append((out, kw)))
    assert M.main(["demo", "--budget", "long", "--quiet"]) == 0
    assert M.main(["demo", "--budget", "long", "--out", str(tmp_path), "--quiet"]) == 0
    assert [c[0] for c in calls] == ["demo_long", str(tmp_path)]
    with pytest.raises(SystemExit):
        M.build_parser().parse_args(["demo", "--budget", "forever"])
