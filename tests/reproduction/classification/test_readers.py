"""RAVDESS and FER+ readers on synthetic trees and CSVs in the real formats."""
import csv
import json

import numpy as np
import pytest

from reproduction.classification import ferplus, ravdess
from reproduction.errors import ReproductionError


def _ravdess_tree(root, actors=range(1, 7)):
    """A RAVDESS-like tree: every file of the distributed speech sets (modalities 01, 02, 03)
    for these actors, empty files, in Actor_NN folders."""
    for actor in actors:
        folder = root / f"Video_Speech_Actor_{actor:02d}" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for modality in (1, 2):
            for emotion in range(1, 9):
                for intensity in ((1,) if emotion == 1 else (1, 2)):
                    for statement in (1, 2):
                        for repetition in (1, 2):
                            name = (f"{modality:02d}-01-{emotion:02d}-{intensity:02d}-"
                                    f"{statement:02d}-{repetition:02d}-{actor:02d}.mp4")
                            (folder / name).write_bytes(b"")
        (folder / ".DS_Store").write_bytes(b"")
        (folder / "notes.txt").write_text("not a clip")
    return root


def test_ravdess_video_only_speech_counts(tmp_path):
    clips = ravdess.read_clips(_ravdess_tree(tmp_path))
    assert len(clips) == 6 * 60                         # 60 video-only speech clips per actor
    assert all(c.modality == 2 and c.channel == 1 for c in clips)
    counts = ravdess.class_counts(clips)
    assert counts.tolist() == [6 * 4] + [6 * 8] * 7     # neutral: half of every other class
    c = ravdess.parse_name("x/02-01-06-02-01-02-12.mp4")
    assert (c.emotion, c.label, c.intensity, c.statement, c.repetition, c.actor) == \
        (6, 5, 2, 1, 2, 12)
    assert c.stem == "02-01-06-02-01-02-12"


@pytest.mark.parametrize("name, what", [
    ("02-01-06-01-02-01.mp4", "not a RAVDESS file name"),
    ("02-01-09-01-02-01-12.mp4", "emotion code 09"),
    ("02-01-01-02-02-01-12.mp4", "no strong neutral"),
    ("02-01-03-01-02-01-25.mp4", "actor code 25"),
])
def test_ravdess_malformed_name_names_the_file(tmp_path, name, what):
    root = _ravdess_tree(tmp_path, actors=[1])
    bad = root / "Video_Speech_Actor_01" / "Actor_01" / name
    bad.write_bytes(b"")
    with pytest.raises(ReproductionError, match=what) as e:
        ravdess.read_clips(root)
    assert str(bad) in str(e.value)


def test_ravdess_folds_actor_disjoint_written_and_reused(tmp_path):
    clips = ravdess.read_clips(_ravdess_tree(tmp_path / "data"))
    path = tmp_path / "folds.json"
    folds = ravdess.load_or_make_folds(path, [c.actor for c in clips], k=3, seed=4)
    flat = [a for f in folds for a in f]
    assert sorted(flat) == list(range(1, 7)) and len(flat) == len(set(flat))
    assert [len(f) for f in folds] == [2, 2, 2]
    # reused: another seed and k do not change what the file says
    assert ravdess.load_or_make_folds(path, range(1, 7), k=2, seed=9) == folds
    assert json.loads(path.read_text())["folds"] == folds
    for k in range(3):
        train, test = ravdess.split(clips, folds, k)
        assert {c.actor for c in train}.isdisjoint({c.actor for c in test})
        assert len(train) + len(test) == len(clips)
    with pytest.raises(ReproductionError, match="delete the file"):
        ravdess.load_or_make_folds(path, range(1, 8))
    path.write_text(json.dumps({"folds": [[1, 2, 3], [3, 4, 5, 6]]}))
    with pytest.raises(ReproductionError, match="actor-disjoint"):
        ravdess.load_or_make_folds(path, range(1, 7))


# ------------------------------------------------------------------------------------------
# FER+
# ------------------------------------------------------------------------------------------

HEADER_NEW = ["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger",
              "disgust", "fear", "contempt", "unknown", "NF"]


def _write_fer(tmp_path, rows):
    """rows: (usage, image name, votes[10]); pixels drawn from the row index."""
    fer, new = tmp_path / "fer2013.csv", tmp_path / "fer2013new.csv"
    with open(fer, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for i, (usage, _, _) in enumerate(rows):
            px = (np.arange(2304) * (i + 1)) % 256
            w.writerow([i % 7, " ".join(map(str, px)), usage])
    with open(new, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER_NEW)
        for usage, name, votes in rows:
            w.writerow([usage, name] + list(votes))
    return fer, new


@pytest.mark.parametrize("votes, label", [
    ([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], 8),     # 4 of 9 after outliers: no majority -> unknown
    ([6, 0, 1, 1, 0, 0, 0, 0, 2, 0], 0),     # the 1s are outliers: 6 of 8
    ([4, 0, 0, 4, 1, 0, 0, 0, 1, 0], 8),     # a tie -> unknown
    ([0, 10, 0, 0, 0, 0, 0, 0, 0, 0], 1),
    ([0, 0, 6, 0, 0, 0, 4, 0, 0, 0], 2),
    ([0, 0, 0, 0, 0, 0, 0, 0, 3, 7], 9),     # not a face
    ([5, 0, 0, 0, 0, 0, 0, 0, 5, 0], 8),     # tie with unknown
    ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 8),     # every vote an outlier
    ([0, 0, 0, 0, 0, 0, 0, 6, 2, 2], 7),     # contempt
])
def test_ferplus_majority_rule(votes, label):
    assert ferplus.majority_label(votes) == label


def test_ferplus_reader(tmp_path):
    rows = [("Training", "fer0000000.png", [6, 0, 1, 1, 0, 0, 0, 0, 2, 0]),
            ("Training", "fer0000001.png", [4, 0, 0, 4, 1, 0, 0, 0, 1, 0]),
            ("Training", "", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]),
            ("PublicTest", "fer0000003.png", [0, 0, 0, 0, 0, 0, 0, 0, 3, 7]),
            ("PublicTest", "fer0000004.png", [0, 0, 0, 0, 8, 2, 0, 0, 0, 0]),
            ("PrivateTest", "fer0000005.png", [0, 0, 0, 0, 0, 0, 0, 6, 2, 2]),
            ("PrivateTest", "fer0000006.png", [0, 0, 0, 0, 0, 7, 3, 0, 0, 0])]
    fer, new = _write_fer(tmp_path, rows)
    d = ferplus.read_ferplus(fer, new)
    assert d.rows.tolist() == [1, 5, 6, 7]
    assert [d.classes[k] for k in d.labels] == ["neutral", "anger", "contempt", "disgust"]
    assert d.usage.tolist() == ["train", "valid", "test", "test"]
    assert d.left_out == {"no image name": 1, "unknown": 1, "not a face": 1, "contempt": 0}
    assert d.images.shape == (4, 48, 48) and d.images.dtype == np.uint8
    assert d.images[1].ravel()[:4].tolist() == [0, 5, 10, 15]      # row 5's pixels, row-major
    seven = ferplus.read_ferplus(fer, new, classes=7)
    assert "contempt" not in seven.classes and seven.left_out["contempt"] == 1
    assert [seven.classes[k] for k in seven.labels] == ["neutral", "anger", "disgust"]
    images, labels = d.part("test")
    assert len(images) == len(labels) == 2


def test_ferplus_malformed_rows_name_file_and_line(tmp_path):
    rows = [("Training", "fer0000000.png", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0])] * 3
    fer, new = _write_fer(tmp_path, rows)
    lines = fer.read_text().splitlines()
    lines[2] = "0,1 2 3,Training"
    fer.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReproductionError, match=f"{fer}:3: expected 2304"):
        ferplus.read_ferplus(fer, new)
    fer, new = _write_fer(tmp_path, rows)
    lines = new.read_text().splitlines()
    lines[3] = "PublicTest,fer0000002.png,0,10,0,0,0,0,0,0,0,0"
    new.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReproductionError, match=f"{new}:4: usage 'PublicTest'"):
        ferplus.read_ferplus(fer, new)
    lines[3] = "Training,fer0000002.png,0,ten,0,0,0,0,0,0,0,0"
    new.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReproductionError, match=f"{new}:4: the vote counts"):
        ferplus.read_ferplus(fer, new)
    new.write_text("\n".join(lines[:3]) + "\n")
    with pytest.raises(ReproductionError, match="more rows"):
        ferplus.read_ferplus(fer, new)
    new.write_text("Usage,name\n")
    with pytest.raises(ReproductionError, match=f"{new}:1: expected the header"):
        ferplus.read_ferplus(fer, new)


def test_ferplus_faces_as_ravdess_classes(tmp_path):
    from reproduction.classification.labels import RAVDESS_EMOTIONS
    from reproduction.classification.protocol import _ferplus_faces
    rows = [("Training", f"fer{i:07d}.png", [10 if j == i else 0 for j in range(10)])
            for i in range(8)]
    _write_fer(tmp_path, rows)
    images, labels, names = _ferplus_faces(tmp_path, "train")
    assert len(images) == 7                            # contempt left out (7 classes)
    assert [RAVDESS_EMOTIONS[k] for k in labels] == [
        "neutral", "happy", "surprised", "sad", "angry", "disgust", "fearful"]
    assert "calm" not in names
    with pytest.raises(ReproductionError, match="no test face"):
        _ferplus_faces(tmp_path, "test")
