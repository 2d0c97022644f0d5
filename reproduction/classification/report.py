"""The classification protocol's report: accuracy tables, confusion matrices, Table 1, and a
summary of which of the seed's findings the data shows, each with its bootstrap interval.

Every interval is a 95 % percentile bootstrap over the test clips (one
:class:`reproduction.statistics.Resampler` per report, so the cells and differences of one
report are drawn from the same clips and differences are paired).
"""
from __future__ import annotations

import os

import numpy as np

from caffe_compat.io.atomic import write_text_atomic

from ..statistics import (Resampler, format_verdicts, not_testable, verdict_for_closeness,
                          verdict_for_difference, verdicts_markdown)
from . import frames as F
from . import metrics as M
from . import perframe as P
from . import tables as TB

__all__ = ["write", "METHODS", "CHANCE"]

METHODS = {"mean": "mean of the class scores", "mode": "mode of the per-frame classes",
           "lstm": "CNN-LSTM"}
CHANCE = 1.0 / 8
# the seed's starting point of each layout of the ResNet-50's starting weights (Table 1 keys)
SEED_START = {"he": "ImageNet", "vggface2": "VGG-Face"}
# per-frame accuracy "as the seed's" within half the gap between its two starting points
TABLE1_MARGIN = 0.04


def _acc(y, p):
    return lambda units, _s: float(np.mean(y[units] == p[units]))


def _perframe_verdict(rs, perframe_test, layout):
    claim = ("the per-frame net is right on 0.86 of FER+'s faces from VGG-Face, 0.78 from "
             "ImageNet")
    if perframe_test is None:
        return not_testable(claim, "the sample has no FER+ faces and no pre-trained ResNet-50; "
                            "the small net learns from scratch on drawn faces")
    if layout not in SEED_START:
        return not_testable(claim, "the per-frame net is the small one trained from scratch "
                            "on FER+, not the seed's ResNet-50; give --init-weights")
    start = SEED_START[layout]
    seed = TB.seed_values()["table1_accuracy"][start]
    fy, fp, _ = perframe_test
    frs = Resampler(len(fy), unit="FER+ test faces", seed=rs.seed)
    iv = frs.interval(lambda u, s: _acc(fy, fp)(u, s) - seed)
    return verdict_for_closeness(claim, iv, f"per-frame accuracy - {seed:g} (the seed's from "
                                 f"{start}), FER+ test faces", TABLE1_MARGIN)


def _verdicts(rs, y, pred, ferplus=False, perframe_test=None, layout=None):
    hr = ("720p", 30)
    best = max(METHODS, key=lambda m: np.mean(pred[m][hr] == y))
    out = []
    iv = rs.interval(lambda u, s: _acc(y, pred[best][hr])(u, s) - CHANCE)
    out.append(verdict_for_difference(
        f"the task is learnable: the best method ({best}) at 720p / 30 fps beats chance "
        f"(1/8)", iv, f"accuracy({best}) - 0.125"))
    for other in ("mean", "mode"):
        iv = rs.difference(_acc(y, pred["lstm"][hr]), _acc(y, pred[other][hr]))
        out.append(verdict_for_difference(
            f"the CNN-LSTM beats the {other} of the per-frame outputs (seed: 0.67-0.81 "
            "against 0.26-0.33 for the mean)", iv, f"accuracy(lstm) - accuracy({other}) at "
            "720p / 30 fps"))
    iv = rs.difference(_acc(y, pred["lstm"][("144p", 15)]), _acc(y, pred["lstm"][("720p", 15)]))
    out.append(verdict_for_closeness(
        "144p costs the CNN-LSTM nothing at 15 fps (seed: 0.81 at both 720p and 144p)", iv,
        "accuracy(144p) - accuracy(720p), lstm, 15 fps", 0.1))
    iv = rs.difference(_acc(y, pred["lstm"][("720p", 5)]), _acc(y, pred["lstm"][("720p", 30)]))
    out.append(verdict_for_closeness(
        "5 fps costs the CNN-LSTM little (seed: all 9 conditions within 0.67-0.81)", iv,
        "accuracy(5 fps) - accuracy(30 fps), lstm, 720p", 0.14))
    out.append(_perframe_verdict(rs, perframe_test, layout))
    out.append(not_testable(
        "disgust is the weakest class, 47 % of it taken for anger",
        "which drawn expressions look alike is decided by the sample's drawing, not by "
        "people's faces"))
    claim = "the mean of a FER+ net's scores reaches only 0.26-0.33 on RAVDESS"
    if ferplus:
        iv = rs.interval(lambda u, s: _acc(y, pred["mean"][hr])(u, s) - 0.295)
        out.append(verdict_for_closeness(claim, iv, "accuracy(mean) - 0.295 at 720p / 30 fps",
                                         0.035))
    else:
        out.append(not_testable(claim, "on the sample the per-frame net learns the sample's "
                                "own 8 classes from its training actors (FER+ has no calm), "
                                "so its mean is not the seed's; give --ferplus"))
    return out, best


def _table1(rs, test, outputs, classes, perframe_test):
    """Table 1 on FER+'s test faces (``perframe_test`` = (true, predicted, class names), units
    the faces) or, without FER+, on the test clips' 720p faces where the expression is held
    (units the clips)."""
    if perframe_test is not None:
        fy, fp, names = perframe_test
        frs = Resampler(len(fy), unit="FER+ test faces", seed=rs.seed)
        present = [i for i in range(len(classes)) if classes[i] in names]
        pc = M.per_class(fy, fp, len(classes))
        pc = {key: np.asarray(v)[present] for key, v in pc.items()}
        return TB.table1([classes[i] for i in present], pc, frs.interval(_acc(fy, fp)),
                         "Table 1 layout: per-frame classifier, FER+ test faces")
    fy, fp, owner = [], [], []
    for j, c in enumerate(test):
        prob = outputs[(c.stem, "720p")][0]
        idx = P.held_frames(len(prob))
        fy.append(np.full(len(idx), c.label))
        fp.append(prob[idx].argmax(axis=1))
        owner.append(np.full(len(idx), j))
    fy, fp, owner = np.concatenate(fy), np.concatenate(fp), np.concatenate(owner)

    def frame_acc(units, _s):
        take = np.concatenate([np.flatnonzero(owner == u) for u in units])
        return float(np.mean(fy[take] == fp[take]))
    return TB.table1(classes, M.per_class(fy, fp, len(classes)), rs.interval(frame_acc),
                     "Table 1 layout: per-frame classifier, test actors' 720p faces")


def write(out, test, faces, outputs, pred, info, classes, perframe_test=None):
    """Write tables, confusion matrices, Table 1 and ``summary.md`` into ``out``; print and
    return the summary's parts. ``perframe_test``: (true, predicted, FER+ class names) of
    FER+'s test faces, when the per-frame net learnt from FER+."""
    k = len(classes)
    y = np.array([c.label for c in test])
    rs = Resampler(len(y), unit="test clips", seed=info.get("seed", 0))
    res_names, rates = list(F.RESOLUTIONS), list(F.FRAME_RATES)
    tables, files, cells_json = [], [], {}
    for method in METHODS:
        cells = {}
        for res in res_names:
            for fps in rates:
                cells[(res, fps)] = rs.interval(_acc(y, pred[method][(res, fps)]))
                cells_json[f"{method}/{res}@{fps}"] = cells[(res, fps)].to_dict()
        md = TB.accuracy_table(method, cells, res_names, rates)
        tables.append(md)
        path = os.path.join(out, f"accuracy_{method}.md")
        write_text_atomic(path, md + "\n")
        files.append(path)
        stem = os.path.join(out, f"confusion_{method}")
        TB.write_confusion(M.confusion(y, pred[method][("720p", 30)], k), classes, stem,
                           f"{METHODS[method]}, 720p / 30 fps, {len(y)} test clips")
        files += [stem + ".csv", stem + ".png"]
    summary_rows = ["| method | accuracy | UAR | macro-F1 |", "|---|---|---|---|"]
    for method in METHODS:
        s = M.scores_with_intervals(rs, y, pred[method][("720p", 30)], k)
        summary_rows.append(f"| {METHODS[method]} | " + " | ".join(
            s[n].format(3) for n in ("accuracy", "UAR", "macro-F1")) + " |")
    t1 = _table1(rs, test, outputs, classes, perframe_test)
    path = os.path.join(out, "table1_perframe.md")
    write_text_atomic(path, t1 + "\n")
    files.append(path)
    detection = {res: float(np.mean(np.concatenate([faces[c.stem][res][1] for c in test])))
                 for res in res_names}
    verdicts, best = _verdicts(rs, y, pred, perframe_test is not None, perframe_test,
                               info.get("init", {}).get("layout"))
    text = "\n\n".join([
        "# Maclean 2021's classification protocol on " + info["data"],
        f"Test fold {info['test_fold']} (actors {info['folds'][info['test_fold']]}): "
        f"{info['n_test']} test clips, {info['n_train']} training clips. Intervals: 95 % "
        f"bootstrap over the test clips ({rs.resamples} resamples). Chance: 0.125.",
        "Per-frame net: " + info.get("perframe_net", "small net (3 conv, fc 128)")
        + "; it learnt from " + info.get("perframe_data", "the training actors") + ".",
        "Faces found by the detector (test clips' frames): " + ", ".join(
            f"{r} {v:.1%}" for r, v in detection.items()),
        "## 720p / 30 fps\n\n" + "\n".join(summary_rows),
        "## Accuracy by resolution and frame rate\n\n" + "\n\n".join(tables),
        "## Per-frame\n\n" + t1,
        "## The seed's findings\n\n" + verdicts_markdown(verdicts),
        "## Files\n\n" + "\n".join(f"- {os.path.relpath(f, out)}" for f in files),
    ])
    path = os.path.join(out, "summary.md")
    write_text_atomic(path, text + "\n")
    import json
    write_text_atomic(os.path.join(out, "accuracy.json"),
                      json.dumps(cells_json, indent=1, sort_keys=True) + "\n")
    printout = "\n\n".join(["\n".join(summary_rows), "\n\n".join(tables),
                            format_verdicts(verdicts, "The seed's findings on this data")])
    return dict(summary=path, files=files + [path], printout=printout, best=best,
                verdicts=[v.to_dict() for v in verdicts], detection=detection,
                accuracy=cells_json)
