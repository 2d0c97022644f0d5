"""reproduction.claims, sr_gain and verdicts: the paper's claims decided by bootstrap intervals,
on small synthetic predictions (and one tiny run, slow pass)."""
import json

import numpy as np
import pytest

from matlab_ports.run_eval import script_metrics
from reproduction import claims as C
from reproduction import sr_gain as G
from reproduction import statistics as S


def _cells(rng, units, gains, seeds=1, noise=0.3):
    """{row: Scores} whose predictions are ``gain * truth + noise`` on the same frames."""
    lengths = {"dev_1": 200, "dev_2": 200}
    seqs = ["dev_1"] * 200 + ["dev_2"] * 200
    frames = np.concatenate([np.arange(200), np.arange(200)])
    gt = np.tanh(np.sin(np.arange(400) / 9.0) + 0.2 * rng.normal(size=400))
    unit = C.Units(lengths).of(seqs, frames)
    out = {}
    for row, gain in gains.items():
        key = row[1].lower()
        preds = np.stack([gain * gt + noise * rng.normal(size=400) for _ in range(seeds)])
        out[row] = C.Scores(key, gt, preds, unit)
    return out


def test_ccc_from_sums_is_run_eval_ccc():
    rng = np.random.default_rng(0)
    g, p = rng.normal(0.1, 0.5, 300), rng.normal(-0.2, 0.3, 300) + 0.4 * rng.normal(size=300)
    sums = C.Scores("m", g, p[None], np.zeros(300, np.int64)).sums(1)[0, 0]
    # sums of squares against run_eval's two-pass mean/var, both in float64: 1e-12 relative
    assert C.ccc_from_sums(sums) == pytest.approx(script_metrics(g, p)["ccc_run_eval"],
                                                  rel=1e-12)
    constant = C.Scores("m", g, np.full((1, 300), 0.3), np.zeros(300, np.int64)).sums(1)[0, 0]
    assert np.isnan(C.ccc_from_sums(constant))     # run_eval: CC of a constant is NaN


def test_cell_estimate_is_the_table_cell_and_batch_equals_the_loop():
    rng = np.random.default_rng(1)
    cells = _cells(rng, 8, {(None, "HR"): 0.9, (3, "LR-3"): 0.4}, seeds=3)
    units = C.Units({"dev_1": 200, "dev_2": 200})
    hr = cells[(None, "HR")]
    stat = C.ccc_statistic(hr, units.count)
    everything = np.arange(units.count)
    # one seed on all units: the CCC of the concatenation, as the table's cell (1e-12: sums)
    one = C.Scores("hr", hr.ground_truth, hr.predictions[:1], hr.unit)
    assert C.ccc_statistic(one, units.count)(everything, None) == pytest.approx(
        script_metrics(hr.ground_truth, hr.predictions[0])["ccc_run_eval"], rel=1e-12)
    r = S.Resampler(units.count, resamples=300, seed=4, unit=units.kind)
    draws = r.seed_draws(3, "hr")
    loop = np.array([stat(r.unit_draws[b], draws[b]) for b in range(r.resamples)])
    # the batched statistic sums the same per-unit sums in another order: 1e-12 relative
    np.testing.assert_allclose(stat.batch(r.unit_draws, draws), loop, rtol=1e-12)


def test_units():
    u = C.Units({"a": 200, "b": 120})
    # 200 frames: 4 segments of 50; 120: 2 segments, the last 20 frames join the second
    assert u.count == 6 and "segments of 50 frames" in u.kind
    np.testing.assert_array_equal(u.of(["a", "a", "b", "b"], np.array([0, 199, 49, 119])),
                                  [0, 3, 4, 5])
    assert C.Units({"a": 130}).count == 3              # 30 >= 25: a segment of its own
    many = C.Units({f"dev_{k}": 100 for k in range(1, 10)})
    assert many.by_sequence and many.count == 9 and many.kind == "dev sequences"
    with pytest.raises(ValueError, match="dev_x.*not one of the run's dev sequences"):
        u.of(["dev_x"], np.array([0]))


def test_table_verdicts_on_synthetic_predictions():
    rng = np.random.default_rng(2)
    gains = {(None, "HR"): 0.9, (3, "LR-3"): 0.5, (6, "LR-6"): 0.3, (3, "Joint-OA"): 0.8,
             (6, "Joint-OA"): 0.02, (3, "Joint-3"): 0.8, (3, "Non-Joint-3"): 0.3,
             (6, "Joint-6"): 0.5, (6, "Non-Joint-6"): 0.5}
    cells = _cells(rng, 8, gains)
    oa = cells[(3, "Joint-OA")]                         # Joint-3: Joint-OA's output, nudged
    cells[(3, "Joint-3")] = C.Scores("joint-3", oa.ground_truth,
                                     oa.predictions + 0.01 * rng.normal(size=(1, 400)), oa.unit)
    r = S.Resampler(8, resamples=500, unit="segments")
    good = S.Interval(0.8, 0.5, 1.1)
    by = {v.claim: v for v in C.table_verdicts(cells, (3, 6), r, sr_gain=good)}
    assert by["HR ahead of LR-3"].status == S.SUPPORTED
    assert by["CCC falls as s grows, 3 -> 6"].status == S.SUPPORTED
    assert by["SR pre-training: Joint-3 ahead of Non-Joint-3"].status == S.SUPPORTED
    assert by["Joint-OA ahead of LR-3"].status == S.SUPPORTED
    assert by["Joint-OA ahead of LR-6"].status == S.CONTRADICTED
    assert by["Joint-OA close to Joint-3"].status == S.SUPPORTED
    assert by["Joint-OA close to Joint-6"].status == S.CONTRADICTED
    iv = by["HR ahead of LR-3"].interval
    assert iv.low < iv.estimate < iv.high and iv.unit == "segments"
    # the SR-FCN does not beat bicubic: the SR claims are not testable, the interval kept
    bad = S.Interval(-0.4, -0.7, -0.1)
    by = {v.claim: v for v in C.table_verdicts(cells, (3, 6), r, sr_gain=bad,
                                               later="; the long budget tests this")}
    v = by["Joint-OA ahead of LR-3"]
    assert v.status == S.NOT_TESTABLE and v.interval is not None
    assert "does not beat bicubic" in v.reason and v.reason.endswith("the long budget tests this")
    assert "-0.40 [-0.70, -0.10] dB" in v.line()
    # per-factor gains: Joint-3 gated by the SR-FCN at 3, Joint-OA by the one at 6
    by = {v.claim: v for v in C.table_verdicts(cells, (3, 6), r, sr_gain={3: good, 6: bad})}
    assert by["SR pre-training: Joint-3 ahead of Non-Joint-3"].status == S.SUPPORTED
    assert by["Joint-OA ahead of LR-3"].status == S.NOT_TESTABLE
    assert "at s=6" in by["Joint-OA ahead of LR-3"].reason
    assert by["HR ahead of LR-3"].status == S.SUPPORTED          # not an SR claim
    # Joint-OA close to Joint-s needs both SR-FCNs: the one at s (Joint-s) and Joint-OA's
    by = {v.claim: v for v in C.table_verdicts(cells, (3, 6), r, sr_gain={3: bad, 6: good})}
    v = by["Joint-OA close to Joint-3"]
    assert v.status == S.NOT_TESTABLE and "at s=3" in v.reason
    assert by["Joint-OA ahead of LR-3"].status == S.SUPPORTED    # Joint-OA's is the one at 6
    # two near-constant models: their difference decides nothing
    flat = {(3, "LR-3"): C.Scores("lr-3", cells[(3, "LR-3")].ground_truth,
                                  0.001 * cells[(3, "LR-3")].predictions,
                                  cells[(3, "LR-3")].unit),
            (6, "LR-6"): C.Scores("lr-6", cells[(6, "LR-6")].ground_truth,
                                  0.0001 * cells[(6, "LR-6")].predictions,
                                  cells[(6, "LR-6")].unit)}
    v = C.table_verdicts(flat, (3, 6), r)[2]
    assert v.claim == "CCC falls as s grows, 3 -> 6" and v.status == S.NOT_TESTABLE
    assert "near-constant predictions" in v.reason and v.interval is not None
    # two near-constant SR models are "close" trivially: not evidence either
    flat_sr = dict(cells)
    for key in ((3, "Joint-OA"), (3, "Joint-3")):
        c = cells[key]
        flat_sr[key] = C.Scores(c.key, c.ground_truth, 0.001 * c.predictions, c.unit)
    by = {v.claim: v for v in C.table_verdicts(flat_sr, (3, 6), r, sr_gain=good)}
    v = by["Joint-OA close to Joint-3"]
    assert v.status == S.NOT_TESTABLE and "near-constant predictions" in v.reason
    # missing models are named
    few = {k: v for k, v in cells.items() if k in ((None, "HR"), (3, "LR-3"))}
    by = {v.claim: v for v in C.table_verdicts(few, (3,), r)}
    assert by["CCC falls as s grows"].status == S.NOT_TESTABLE
    assert "--all-methods" in by["Joint-OA close to Joint-3"].reason


def test_seeds_widen_the_interval():
    """Three seeds whose predictions differ in gain: drawing seeds adds their spread."""
    rng = np.random.default_rng(3)
    cells = _cells(rng, 8, {(None, "HR"): 0.9, (3, "LR-3"): 0.5}, seeds=3)
    lr = cells[(3, "LR-3")]
    lr.predictions[1] *= 0.3
    r = S.Resampler(8, resamples=500)
    one = C.Scores("lr-3", lr.ground_truth, lr.predictions[:1], lr.unit)
    three = C.ccc_difference(r, cells[(None, "HR")], lr)
    single = C.ccc_difference(r, C.Scores("hr", cells[(None, "HR")].ground_truth,
                                       cells[(None, "HR")].predictions[:1], lr.unit), one)
    assert three.unit == "units x seeds"
    assert three.high - three.low > single.high - single.low


def test_figure4_verdicts():
    rng = np.random.default_rng(4)
    cells = _cells(rng, 8, {(None, "HR"): 0.9, (3, "LR-3"): 0.2})
    f4 = {(3, 16, "HR"): cells[(None, "HR")], (3, 48, "HR"): cells[(3, "LR-3")]}
    vs = C.figure4_verdicts(f4, S.Resampler(8, resamples=300), {(3, 16): 1.1, (3, 48): 0.15})
    assert len(vs) == 1 and vs[0].status == S.SUPPORTED
    assert vs[0].claim == ("Figure 4, s=3, HR: CCC lower at QP 48 than at QP 16 "
                           "(1.100 -> 0.150 bits per pixel)")
    one = C.figure4_verdicts({(3, 16, "HR"): cells[(None, "HR")]}, S.Resampler(8))
    assert one[0].status == S.NOT_TESTABLE


def test_sr_gain_interval():
    label = np.zeros((4, 8, 8))
    est = label + 0.1                                   # MSE 0.01: 20 dB
    np.testing.assert_allclose(G.frame_psnr(est, label), 20.0)
    g = G.SRGain(6, np.array([30.0, 31, 32, 33]), np.array([29.0, 29, 29, 29]),
                 np.array([0, 0, 1, 1]))
    r = S.Resampler(2, resamples=400)
    iv = G.gain_interval(g, r)
    assert iv.estimate == pytest.approx(2.5)
    assert iv.low == pytest.approx(1.5) and iv.high == pytest.approx(3.5)
    assert g.summary()["gain"] == pytest.approx(2.5)
    # two seeds' SR-FCNs on the same frames: seeds drawn too; the batch equals the loop
    two = G.SRGain.stack([g, G.SRGain(6, g.psnr_sr + 1.0, g.psnr_bicubic, g.unit)])
    iv2 = G.gain_interval(two, r)
    assert iv2.estimate == pytest.approx(3.0) and iv2.unit == "units x seeds"
    assert iv2.low == pytest.approx(1.5) and iv2.high == pytest.approx(4.5)


def test_read_predictions_errors(tmp_path):
    bad = tmp_path / "predictions.csv"
    bad.write_text("sequence,frame\ndev_1,1\n")
    with pytest.raises(ValueError, match="predictions.csv.*expected run_eval's"):
        C.read_predictions(bad)
    good = tmp_path / "p.csv"
    good.write_text("sequence,frame,time,ground_truth,prediction\ndev_1,1,0.0,0.5,0.25\n"
                    "dev_1,2,0.04,0.5,0.3\n")
    assert C.lengths_from_predictions(good) == {"dev_1": 2}


@pytest.mark.slow
def test_verdicts_of_a_tiny_run(tmp_path, capsys):
    from reproduction.__main__ import main
    from reproduction.pipeline import Config, Pipeline
    from reproduction.verdicts import run_verdicts
    out = tmp_path / "run"
    assert main(["reproduce", "--sample", "--sample-frames", "40", "--out", str(out),
                 "--methods", "hr,lr,joint-oa", "--factors", "3,6", "--quick", "--iters",
                 "cnnd=2,srfcn=2,joint=2", "--batch", "2", "--chunk", "4", "--qps", "20,44",
                 "--rd-factors", "3", "--rd-frame-step", "4", "--quiet"]) == 0
    capsys.readouterr()
    cfg = Config.from_json(json.loads((out / "pipeline.json").read_text()))
    res = run_verdicts([Pipeline(cfg, progress=False, log=lambda line: None)],
                       resamples=200, sr_frame_step=20)
    claims = [v.claim for v in res.verdicts]
    assert "HR ahead of LR-6" in claims and "CCC falls as s grows, 3 -> 6" in claims
    assert any(c.startswith("Figure 4, s=3, LR-3") for c in claims)
    assert list(res.sr_gain) == [6] and res.sr_intervals[6].resamples == 200
    text = "\n".join(res.lines())
    assert "SR-FCN at s=6" in text and "[" in text
    assert "| claim | verdict | evidence |" in res.markdown()
