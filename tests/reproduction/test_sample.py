"""The bundled AVEC-like sample: layout, consistency of times, video, boxes, determinism."""
import os

import av
import numpy as np
import pytest

from matlab_ports import avec
from reproduction import sample

N_FRAMES = 40
SIZE = (320, 240)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    pytest.importorskip("matlab_ports.matfile")
    root = tmp_path_factory.mktemp("avec")
    info = sample.make_sample(root, n_train=1, n_dev=1, n_frames=N_FRAMES, size=SIZE, seed=3,
                              progress=False)
    return root, info


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, names in os.walk(root) for f in names)


def test_layout(tree):
    root, info = tree
    assert info["sequences"] == ["train_1", "dev_1"]
    expected = ["README.txt"]
    for name in info["sequences"]:
        expected += [f"recordings_video/{name}.mp4", f"recordings_video_frame_time/{name}.csv",
                     f"ratings_gold_standard/valence/{name}.arff", f"data/bbox/{name}.mat",
                     f"data/gsd/{name}.mat"]
    assert _files(root) == sorted(expected)
    assert info["files"]["dev_1"]["bbox"] == os.path.join(str(root), "data", "bbox", "dev_1.mat")


def test_video_decodes_to_all_frames(tree):
    _, info = tree
    for name in info["sequences"]:
        with av.open(info["files"][name]["video"]) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            frames = [f for f in container.decode(stream)]
        assert len(frames) == N_FRAMES
        assert {(f.width, f.height) for f in frames} == {SIZE}
        assert frames[0].format.name == "yuv420p"


def test_times_identical_everywhere(tree):
    _, info = tree
    for name in info["sequences"]:
        paths = info["files"][name]
        ft = avec.read_frame_times(paths["frame_time"])
        assert ft.shape == (N_FRAMES, 2)
        times = ft[:, 1]
        np.testing.assert_array_equal(ft[:, 0], np.arange(N_FRAMES))
        np.testing.assert_allclose(times, np.arange(N_FRAMES) / 25.0, atol=1e-6)
        bbox, bbox_time = avec.read_bbox_mat(paths["bbox"])
        gsd, gsd_time = avec.read_gsd_mat(paths["gsd"])
        arff_time, arff_value = avec.read_gold_standard_arff(paths["gold_standard"])
        # prepare_dataset.m matches times with ==: they must be the very same doubles
        assert np.array_equal(bbox_time, times) and np.array_equal(gsd_time, times)
        assert np.array_equal(arff_time, times) and np.array_equal(arff_value, gsd)
        assert bbox.shape == (N_FRAMES, 4)


def test_gold_standard_bounded_and_smooth(tree):
    _, info = tree
    for name in info["sequences"]:
        gsd, _ = avec.read_gsd_mat(info["files"][name]["gsd"])
        assert np.all(np.abs(gsd) <= 1.0)
        assert np.max(np.abs(np.diff(gsd))) < 0.1
        assert np.ptp(gsd) > 0.05


def test_boxes_exercise_the_filter(tree):
    _, info = tree
    for name in info["sequences"]:
        bbox, _ = avec.read_bbox_mat(info["files"][name]["bbox"])
        zero = np.all(bbox == 0, axis=1)
        kept = (bbox.sum(axis=1) != 0) & (bbox[:, 2] > 100) & (bbox[:, 3] > 100)
        small = ~zero & ~kept
        assert zero.any() and small.any()
        assert kept.mean() > 0.6
        assert np.all((bbox[kept, 2:] > 100) & (bbox[kept, 2:] < 200))


def test_valence_signal_is_seeded():
    t = np.arange(200) / 25.0
    a = sample.valence_signal(np.random.SeedSequence(5), t)
    assert np.array_equal(a, sample.valence_signal(np.random.SeedSequence(5), t))
    assert not np.allclose(a, sample.valence_signal(np.random.SeedSequence(6), t))
    assert np.all(np.abs(a) < 1.0)


def test_deterministic_for_a_seed(tree, tmp_path):
    root, info = tree
    again = sample.make_sample(tmp_path, n_train=1, n_dev=1, n_frames=N_FRAMES, size=SIZE,
                               seed=3, progress=False)
    assert _files(tmp_path) == _files(root)
    for name in info["sequences"]:
        for key in ("video", "frame_time", "gold_standard"):
            with open(info["files"][name][key], "rb") as f1, \
                    open(again["files"][name][key], "rb") as f2:
                assert f1.read() == f2.read(), (name, key)
        for reader in (avec.read_bbox_mat, avec.read_gsd_mat):
            key = "bbox" if reader is avec.read_bbox_mat else "gsd"
            for x, y in zip(reader(info["files"][name][key]), reader(again["files"][name][key])):
                assert np.array_equal(x, y)


def test_cli(tmp_path, capsys):
    pytest.importorskip("matlab_ports.matfile")
    assert sample.main(["--out", str(tmp_path), "--train", "1", "--dev", "0", "--frames", "5",
                        "--quiet"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "recordings_video" in out and "data/bbox" in out
    assert (tmp_path / "recordings_video" / "train_1.mp4").exists()
