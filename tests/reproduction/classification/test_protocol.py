"""The classify command end to end on a tiny labelled sample: every table, picture and the
summary written; a second run resumes from the kept steps."""
import json
import os
import shutil

import pytest

from reproduction.classification import protocol


@pytest.mark.slow
def test_protocol_end_to_end_and_resume(tmp_path, monkeypatch):
    monkeypatch.setitem(protocol.SCHEDULES, "tiny",
                        protocol.Schedule("tiny", 6, 8, 4, 4, 16))
    out = tmp_path / "out"
    result = protocol.run(out, schedule="tiny", actors=3, frames=6, folds=3, progress=False,
                          log=lambda *a: None)
    for name in ("accuracy_mean.md", "accuracy_mode.md", "accuracy_lstm.md",
                 "confusion_mean.png", "confusion_mode.csv", "confusion_lstm.png",
                 "table1_perframe.md", "summary.md", "folds.json", "run.json"):
        assert (out / name).is_file(), name
    summary = (out / "summary.md").read_text()
    assert "| 720p |" in summary and "not testable" in summary
    assert "0.81" in (out / "accuracy_lstm.md").read_text()     # the seed's quoted cell
    lines = (out / "confusion_lstm.csv").read_text().splitlines()
    assert len(lines) == 9 and lines[0].startswith("true\\predicted,neutral")
    assert sum(int(v) for ln in lines[1:] for v in ln.split(",")[1:]) == 15   # 1 test actor
    assert {v["status"] for v in result["verdicts"]} <= {
        "supported", "contradicted", "inconclusive", "not testable"}
    folds = json.loads((out / "folds.json").read_text())["folds"]
    assert sorted(a for f in folds for a in f) == [1, 2, 3]
    again = protocol.run(out, schedule="tiny", actors=3, frames=6, folds=3, progress=False,
                         log=lambda *a: None)
    assert again["accuracy"] == result["accuracy"]                # same models, same figures
    assert again["timings"]["faces"]["cpu_s"] < result["timings"]["faces"]["cpu_s"]
    assert os.path.isfile(out / "work" / "lstm" / "emotion_lstm_iter_4.caffemodel")
    # the per-frame net from FER+ (the faces of the first run reused: same clips)
    from tests.reproduction.classification.test_readers import _write_fer
    fer_dir = tmp_path / "ferplus"
    fer_dir.mkdir()
    votes = [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0] for _ in range(14)]
    for i, v in enumerate(votes):
        v[i % 7] = 10
    _write_fer(fer_dir, [("Training" if i < 7 else "PrivateTest", f"fer{i:07d}.png", v)
                         for i, v in enumerate(votes)])
    out2 = tmp_path / "out2"
    shutil.copytree(out / "sample", out2 / "sample")
    shutil.copytree(out / "work" / "faces", out2 / "work" / "faces")
    fer = protocol.run(out2, schedule="tiny", actors=3, frames=6, folds=3, progress=False,
                       log=lambda *a: None, ferplus_dir=fer_dir)
    table1 = (out2 / "table1_perframe.md").read_text()
    assert "FER+ test faces" in table1 and "| calm |" not in table1
    assert "| disgust |" in table1
    assert any("0.26-0.33" in v["claim"] and v["status"] != "not testable"
               for v in fer["verdicts"])
