"""The demo's plan and budget, its findings, the command line (errors and a tiny run), and the
whole demo within its 10 minutes with a core held by another process (slow pass)."""
import json
import math
import os
import subprocess
import sys

import pytest

from caffe_compat.parallel import threads
from reproduction import demo as D
from reproduction import recipes as R
from reproduction.__main__ import main


def test_demo_plan():
    cfg = D.demo_config("x")
    keys = [r.key for r in R.plan(cfg.methods, cfg.factors, cfg.schedule, cfg.mix)]
    # Joint-OA starts from the SR-FCN at the largest factor of its mix (6)
    assert keys == ["srfcn-6", "hr", "lr-3", "lr-6", "lr-12", "joint-oa"]
    assert cfg.figure4["factors"] == [3] and cfg.sample["n_dev"] >= 2
    full = D.demo_config("x", all_methods=True)
    keys = [r.key for r in R.plan(full.methods, full.factors, full.schedule, full.mix)]
    assert "joint-12" in keys and "nonjoint-3" in keys and "srfcn-12" in keys


def test_demo_budget_estimate():
    # from the per-item costs of the quiet 2-core machine (30 ms per training face): the
    # default demo's compute (4.3 minutes by these costs; 265 s measured) stays well under its
    # 10 minutes
    est = D.estimate_seconds(D.demo_config("x"))
    assert 120 < est < 8 * 60, est


def test_findings_text():
    ours = {(None, "HR"): dict(cc_run_eval=0.6, ccc_run_eval=0.3),
            (3, "LR-3"): dict(cc_run_eval=0.5, ccc_run_eval=0.2),
            (6, "LR-6"): dict(cc_run_eval=0.4, ccc_run_eval=0.1),
            (3, "Joint-OA"): dict(cc_run_eval=0.55, ccc_run_eval=0.25),
            (6, "Joint-OA"): dict(cc_run_eval=0.35, ccc_run_eval=0.05)}
    rows = [dict(s=3, qp=q, model=m, bpp=b, cc=0.5, ccc=c) for q, b, c in
            ((20, 0.8, 0.2), (40, 0.2, 0.1)) for m in ("HR", "LR-3")]
    lines = D.findings(ours, (3, 6), rows, {"srfcn-6": dict(loss_first=4.0,
                                                            loss_last_10pct=0.5,
                                                            iterations=40)})
    text = "\n".join(lines)
    assert "s=3: 0.200, s=6: 0.100 -> CCC falls as s grows" in text
    assert "s=3: CC +0.050, CCC +0.050" in text and "s=6: CC -0.050, CCC -0.050" in text
    assert "beats LR-s in CCC at 1 of 2 factors" in text
    assert "QP 20: 0.800, QP 40: 0.200" in text
    assert "HR vs LR-3: CCC 0.300 vs 0.200 (+0.100; paper +0.023)" in text
    lines = D.findings({(3, "LR-3"): dict(cc_run_eval=0.1, ccc_run_eval=0.1),
                        (6, "LR-6"): dict(cc_run_eval=0.2, ccc_run_eval=0.2)}, (3, 6))
    assert "does not fall monotonically" in lines[0]


def test_cli_errors(tmp_path, capsys):
    assert main(["reproduce", "--avec", str(tmp_path / "none"), "--out",
                 str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --avec:") and str(tmp_path / "none") in err
    assert main(["reproduce", "--sample", "--out", str(tmp_path / "o"), "--methods",
                 "hr,xx"]) == 1
    assert "--methods" in capsys.readouterr().err
    assert main(["reproduce", "--sample", "--out", str(tmp_path / "o"), "--rd-factors",
                 "4", "--factors", "3"]) == 1
    assert "--rd-factors" in capsys.readouterr().err
    assert main(["figure4", "--out", str(tmp_path / "o2")]) == 1
    assert "pipeline.json" in capsys.readouterr().err
    assert main(["figure4", "--out", str(tmp_path / "o3"), "--crops", str(tmp_path),
                 "--weights", "HR=" + str(tmp_path / "missing.caffemodel")]) == 1
    assert "missing.caffemodel" in capsys.readouterr().err
    assert main(["table", "--out", str(tmp_path)]) == 1
    assert "pipeline.json" in capsys.readouterr().err


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    """--out naming an existing file: one line saying so, exit status 1, no traceback (every
    subcommand's --out is a folder)."""
    taken = tmp_path / "results.txt"
    taken.write_text("mine")
    for argv in (["demo"], ["reproduce", "--sample"], ["classify"], ["grid"]):
        assert main(argv + ["--out", str(taken)]) == 1, argv
        err = capsys.readouterr().err
        assert err == (f"error: --out {taken}: a file is there; the {argv[0]} command writes "
                       "a folder (give a new folder or an existing one)\n"), err
    assert taken.read_text() == "mine"


def test_a_resumed_demo_keeps_the_earlier_runs_time():
    """A rerun after an interruption: the summary gives this run's wall time and the seconds
    its earlier runs spent on the steps it skipped (from their stamps), and the sum."""
    class Pipe:                       # what run_demo asks of the pipeline before it runs
        stamps = {"sample": dict(seconds=30.2), "crops": dict(seconds=100.4), "train": None}

        def order(self):
            return list(self.stamps)

        def is_done(self, name):
            return self.stamps[name] is not None

        def stamp(self, name):
            return self.stamps[name]

    earlier = D.earlier_steps_seconds(Pipe())
    assert earlier == {"sample": 30.2, "crops": 100.4}
    assert D.wall_time_text(120.0, earlier) == (
        "120 s wall time; 2 step(s) finished by earlier runs took 131 s there, 251 s in all")
    assert D.wall_time_text(265.4, {}) == "265 s wall time"


def test_default_output_folders_are_git_ignored():
    """The folders the commands write by default at the repository root (the demo's, the long
    demo's, classify's, the demo summary's HDF5 commands') are git-ignored."""
    import inspect
    from reproduction.__main__ import build_parser
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isdir(os.path.join(repo, ".git")):
        pytest.skip("not a git checkout")
    folders = {"demo_out/", "demo_long/", build_parser().parse_args(["classify"]).out + "/",
               inspect.signature(D.h5_commands).parameters["out_root"].default + "/"}
    run = subprocess.run(["git", "check-ignore", *sorted(folders)], cwd=repo,
                         capture_output=True, text=True)
    assert set(run.stdout.split()) == folders


def test_cli_paper_table(capsys):
    assert main(["table", "--paper"]) == 0
    out = capsys.readouterr().out
    assert "arXiv:1709.03126" in out and "| 6 | LR-6 | 0.149 | — |" in out


def test_cli_tiny_reproduce_table_and_figure4(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["reproduce", "--sample", "--sample-frames", "20", "--out", str(out), "--methods",
            "hr", "--factors", "3", "--quick", "--iters", "cnnd=2", "--batch", "2", "--chunk",
            "4", "--qps", "20,44", "--rd-factors", "3", "--rd-frame-step", "4", "--quiet"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "| - | HR | 0.146 |" in text and "figure4.png" in text
    for name in ("table1.md", "table1.csv", "table1.png", "figure4/figure4.png",
                 "figure4/figure4_bpp.png", "figure4/figure4.csv", "models/hr.caffemodel",
                 "models/hr_loss.png", "pipeline.json"):
        assert (out / name).is_file(), name
    cfg = json.loads((out / "pipeline.json").read_text())
    assert cfg["schedule"]["iters"] == {"cnnd": 2}
    # re-render the table; rerun Figure 4 with other QPs: only the Figure 4 steps run
    assert main(["table", "--out", str(out)]) == 0
    assert main(["figure4", "--out", str(out), "--qps", "24,40", "--quiet"]) == 0
    rows = (out / "figure4" / "figure4.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["24", "40"]
    bpp = [float(r.split(",")[9]) for r in rows[1:]]
    assert bpp[0] >= bpp[1]
    # standalone figure4 on the crops and weights of that run
    crops = out / "work" / "crops-hr"
    assert main(["figure4", "--out", str(tmp_path / "f4"), "--crops", str(crops),
                 "--weights", f"HR={out / 'models' / 'hr.caffemodel'}", "--rd-factors", "4",
                 "--qps", "30", "--rd-frame-step", "6", "--quiet"]) == 0
    assert (tmp_path / "f4" / "figure4.png").is_file()


def _hold_a_core(seconds):
    """A busy loop pinned to the last CPU at higher priority than ours (nice -5; nice 0 where
    this process may not raise a priority), ending by itself after ``seconds``; or None on a
    one-CPU machine. Returns (process, nice)."""
    cpus = threads.affinity()
    if len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return None, None
    nice = -5 if os.geteuid() == 0 else 0

    def pinned():
        os.sched_setaffinity(0, {cpus[-1]})
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    loop = (f"import time\nend = time.monotonic() + {seconds}\n"
            "while time.monotonic() < end:\n    pass\n")
    return subprocess.Popen([sys.executable, "-c", loop], preexec_fn=pinned), nice


@pytest.mark.timing
def test_full_demo_under_ten_minutes_with_a_core_held(tmp_path):
    # the demo's promise holds on a shared machine: another process of higher priority holds
    # one of the two cores for the whole run (torch's fixed thread shares made every operator
    # wait for that core before the thread count followed the cores we can get,
    # caffe_compat.parallel.threads); the loop ends by itself after 11 minutes at the latest
    hog, nice = _hold_a_core(660)
    try:
        res = D.run_demo(str(tmp_path / "demo"), progress=False, log=lambda line: None)
        assert hog is None or hog.poll() is None, "the busy loop ended before the demo did"
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    print(f"demo: {res['seconds']:.0f} s with "
          + ("no core held (one CPU)" if hog is None else f"a core held at nice {nice}"))
    # the demo's promise: the whole pipeline in under 10 minutes on this 2-core machine
    assert res["seconds"] < 600, res["seconds"]
    for key in ("table_md", "table_csv", "table_png", "figure4_png", "figure4_csv"):
        assert os.path.isfile(res["files"][key]), key
    text = "\n".join(res["findings"])
    assert "LR-s CCC vs s" in text and "Joint-OA - LR-s" in text
    # a verdict per claim, each testable one with its interval; the SR claims named
    claims = {v.claim: v for v in res["verdicts"]}
    assert "HR ahead of LR-3" in claims and "CCC falls as s grows, 6 -> 12" in claims
    assert claims["HR ahead of LR-3"].interval is not None
    assert "Joint-OA ahead of LR-6" in claims and "Joint-OA close to Joint-6" in claims
    assert any(c.startswith("Figure 4, s=3") for c in claims)
    summary = open(os.path.join(os.path.dirname(res["files"]["table_md"]),
                                "demo_summary.md"), encoding="utf-8").read()
    assert "## The paper's claims" in summary and "| HR ahead of LR-3 |" in summary
    # the HDF5 files' command, with the demo's chunk (tests/matlab_ports/test_prepare_h5_hints.py
    # runs such a command and compares the bits)
    assert "python -m matlab_ports.prepare_h5_files" in summary and "--chunk 16" in summary
    hr = [line for line in res["findings"] if line.startswith("HR (96x96)")]
    assert hr and not math.isnan(float(hr[0].split("CC ")[1].split(",")[0]))
