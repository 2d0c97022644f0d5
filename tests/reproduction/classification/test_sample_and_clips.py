"""The labelled sample's names and dynamics, frame selection and face crops, and the clip
classifiers' rules."""
import h5py
import numpy as np
import pytest

from reproduction.__main__ import main
from reproduction.classification import clips as C
from reproduction.classification import frames as F
from reproduction.classification import ravdess
from reproduction.classification.sample import clip_names, envelope, make_labelled_sample
from reproduction.errors import ReproductionError


def test_sample_names_follow_ravdess_counts():
    names = clip_names(6)
    assert len(names) == 6 * 15
    clips = [ravdess.parse_name(n + ".mp4") for n in names]
    assert ravdess.class_counts(clips).tolist() == [6] + [12] * 7   # neutral: half
    assert all(c.modality == 2 and c.channel == 1 for c in clips)


def test_envelope_onset_apex_offset():
    e = envelope(np.random.default_rng(1), 30)
    assert e[0] < 0.05 and e.max() == pytest.approx(1.0, abs=0.02)
    apex = int(np.argmax(e))
    assert 5 < apex < 25 and 0.15 < e[-1] < 0.6
    assert np.all(np.diff(e[:apex + 1]) >= -1e-9)                  # rises to the apex


def test_small_sample_reads_back(tmp_path):
    info = make_labelled_sample(tmp_path, actors=2, frames=6, size=(256, 144), progress=False)
    clips = ravdess.read_clips(tmp_path)
    assert len(clips) == len(info["clips"]) == 30
    frames = F.read_clip(clips[0].path)
    assert frames.shape == (6, 144, 256, 3) and frames.dtype == np.uint8
    again = make_labelled_sample(tmp_path, actors=2, frames=6, size=(256, 144),
                                 progress=False)                 # resumable: kept
    assert again["clips"] == info["clips"]


def test_frame_rates_and_degradation():
    assert F.frame_indices(20, 30).tolist() == list(range(20))
    assert F.frame_indices(20, 15).tolist() == list(range(0, 20, 2))
    assert F.frame_indices(20, 5).tolist() == [0, 6, 12, 18]
    with pytest.raises(ReproductionError, match="frame rate 10"):
        F.frame_indices(20, 10)
    frame = np.zeros((720, 1280, 3), np.uint8)
    for size in F.RESOLUTIONS.values():
        assert F.degrade_frame(frame, size).shape == (size[1], size[0], 3)


def test_face_crops_fall_back_to_nearest_detection():
    frames = np.full((5, 144, 256, 3), 90, np.uint8)
    frames[:, 40:100, 100:160] = 200                                # a bright "face"
    boxes = iter([None, (101, 41, 60, 60), None, None, (101, 41, 60, 60)])
    crops, found = F.face_crops(frames, (256, 144), lambda img: next(boxes))
    assert found.tolist() == [False, True, False, False, True]
    assert crops.shape == (5, 48, 48) and (crops == 200).all()       # every crop is the face
    crops, found = F.face_crops(frames, (256, 144), lambda img: None)
    assert not found.any() and crops.shape == (5, 48, 48)           # centre square


def test_mean_mode_and_steps():
    p = np.array([[0.4, 0.3, 0.3]] * 3 + [[0.0, 0.0, 1.0]] * 2)
    assert C.mean_class(p) == 2                 # means 0.24, 0.18, 0.58
    assert C.mode_class(p) == 0                 # votes 3, 0, 2
    tie = np.array([[0.6, 0.4], [0.3, 0.7]])    # one vote each: the higher mean (class 1)
    assert C.mode_class(tie) == 1
    f = np.arange(4, dtype=np.float32)[:, None]
    steps = C.to_steps(f)
    assert steps.shape == (30, 1) and steps[0, 0] == 0 and steps[-1, 0] == 3
    assert sorted(np.bincount(steps[:, 0].astype(int)).tolist()) == [7, 7, 8, 8]


def test_sequences_layout(tmp_path):
    seqs = [np.full((C.T, 2), k, np.float32) for k in range(3)]
    listing = C.write_sequences(str(tmp_path / "s.h5"), seqs, [0, 1, 2], streams=2)
    assert open(listing).read().strip().endswith("s.h5")
    with h5py.File(tmp_path / "s.h5") as h:
        feat, cont, label = h["feat"][()], h["cont"][()], h["label"][()]
    assert feat.shape == (2 * C.T, 2, 2) and label.shape == (2 * C.T, 2)
    assert (cont[0] == 0).all() and (cont[C.T] == 0).all() and cont[1:C.T].all()
    assert (label == feat[:, :, 0]).all()                 # each stream keeps its own clip


def test_classify_names_a_missing_root(tmp_path, capsys):
    assert main(["classify", "--out", str(tmp_path / "o"), "--ravdess",
                 str(tmp_path / "nowhere"), "--quiet"]) == 1
    assert "nowhere: no such folder" in capsys.readouterr().err


def test_classify_help_gives_the_expected_duration(capsys):
    """`classify --help` says how long a run takes before one is started."""
    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "200 s of CPU time" in text and "days" in text
