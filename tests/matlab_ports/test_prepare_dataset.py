"""prepare_dataset.m port on the bundled AVEC-like sample: crops equal to a frame-by-frame
transcription of the script, the frame filter, low-quality degradation, gold standard from
ARFF, the saved variables, errors and interrupted runs."""
import math
import os
import shutil

import av
import numpy as np
import pytest
import scipy.io

from matlab_ports import PortError, imresize, rgb2ycbcr
from matlab_ports import avec
from matlab_ports import prepare_dataset as pd
from matlab_ports.errors import PortFileError
from matlab_ports.matfile import loadmat

N_FRAMES = 40
SEQS = ("train_1", "dev_1")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    from reproduction import sample
    root = tmp_path_factory.mktemp("avec")
    sample.make_sample(root, n_train=1, n_dev=1, n_frames=N_FRAMES, size=(320, 240), seed=1,
                       progress=False)
    return root


def clone(tree, tmp_path):
    """A private copy of the sample tree, for tests that change its files."""
    dst = tmp_path / "avec"
    shutil.copytree(tree, dst)
    return dst


def files_of(root, seq):
    return dict(video=root / "recordings_video" / f"{seq}.mp4",
                csv=root / "recordings_video_frame_time" / f"{seq}.csv",
                bbox=root / "data" / "bbox" / f"{seq}.mat",
                gsd=root / "data" / "gsd" / f"{seq}.mat",
                arff=root / "ratings_gold_standard" / "valence" / f"{seq}.arff")


# --------------------------------------------------------------------------------------------
# The reference: the script's loop written out with the primitives, on every decoded frame


def decoded_frames(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def reference(root, seq, factor=None):
    f = files_of(root, seq)
    frame_time = np.loadtxt(f["csv"], delimiter=";", skiprows=1, ndmin=2)
    b = scipy.io.loadmat(f["bbox"])
    g = scipy.io.loadmat(f["gsd"])
    bbox, bbox_time = b["bbox"], b["time"].ravel()
    gsd, gsd_time = g["gsd"].ravel(), g["time"].ravel()
    frames = decoded_frames(f["video"])
    assert len(frames) == frame_time.shape[0]
    video, valence, video_time = [], [], []
    zero = small = 0
    for i in range(frame_time.shape[0]):
        real_time = frame_time[i, 1]
        bi = np.nonzero(bbox_time == real_time)[0]
        gi = np.nonzero(gsd_time == real_time)[0]
        assert bi.size == 1 and gi.size == 1
        cur = bbox[bi[0]]
        temp = frames[i]
        if cur.sum() != 0 and cur[2] > 100 and cur[3] > 100:
            temp = rgb2ycbcr(temp)[:, :, 0]
            temp = temp.astype(np.float32) / np.float32(255)
            hei, wid = temp.shape
            left, top = math.ceil(cur[0]), math.ceil(cur[1])
            right, bot = math.ceil(cur[0] + cur[2] - 1), math.ceil(cur[1] + cur[3] - 1)
            top, bot, left, right = max(top, 1), min(bot, hei), max(left, 1), min(right, wid)
            crop = imresize(temp[top - 1:bot, left - 1:right], output_size=(96, 96),
                            method="bicubic")
            if factor is not None:
                crop = imresize(imresize(crop, 1 / factor, method="bicubic"),
                                output_size=(96, 96), method="bicubic")
            video.append(crop.astype(np.float64))       # assigned into a double array
            valence.append(gsd[gi[0]])
            video_time.append(real_time)
        elif cur.sum() == 0:
            zero += 1
        else:
            small += 1
    return dict(video=np.stack(video, axis=2), valence=np.array([valence]),
                video_time=np.array([video_time]), zero=zero, small=small)


@pytest.fixture(scope="module")
def baseline(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("crops")
    reports = pd.prepare_dataset(tree, out, progress=False)
    return out, {r.name: r for r in reports}


def assert_same_mat(a, b):
    x, y = loadmat(a), loadmat(b)
    for k in ("video", "valence", "video_time"):
        assert x[k].dtype == y[k].dtype and x[k].shape == y[k].shape
        np.testing.assert_array_equal(x[k], y[k])


# --------------------------------------------------------------------------------------------
# Equality with the transcription


@pytest.mark.parametrize("seq", SEQS)
def test_crops_equal_reference(tree, baseline, seq):
    out, reports = baseline
    ref = reference(tree, seq)
    r = reports[seq]
    # the sample has frames without a face (zero boxes) and with small boxes: both are counted
    assert ref["zero"] > 0 and ref["small"] > 0
    assert (r.frames, r.zero_boxes, r.small_boxes) == (N_FRAMES, ref["zero"], ref["small"])
    assert r.kept == N_FRAMES - ref["zero"] - ref["small"] == ref["video"].shape[2]
    got = loadmat(out / f"{seq}.mat")
    assert sorted(got) == ["valence", "video", "video_time"]
    # tolerance 0: same decoded frames, then the same MATLAB arithmetic step by step
    assert got["video"].dtype == np.float64 and got["video"].shape == (96, 96, r.kept)
    np.testing.assert_array_equal(got["video"], ref["video"])
    assert got["valence"].shape == got["video_time"].shape == (1, r.kept)
    np.testing.assert_array_equal(got["valence"], ref["valence"])
    np.testing.assert_array_equal(got["video_time"], ref["video_time"])
    # double holding single values, as MATLAB's video(:,:,count) = single crop
    np.testing.assert_array_equal(got["video"].astype(np.float32).astype(np.float64),
                                  got["video"])


def test_factor_4_degrades_as_the_script_line(tree, tmp_path):
    reports = pd.prepare_dataset(tree, tmp_path, sequences="dev_1", factor=4, progress=False)
    ref = reference(tree, "dev_1", factor=4)
    got = loadmat(tmp_path / "dev_1.mat")
    assert reports[0].kept == ref["video"].shape[2]
    np.testing.assert_array_equal(got["video"], ref["video"])       # tolerance 0, as above
    np.testing.assert_array_equal(got["valence"], ref["valence"])


def test_arff_gold_standard_gives_the_same_valence(tree, baseline, tmp_path):
    out, _ = baseline
    pd.prepare_dataset(tree, tmp_path, gold="arff", progress=False)
    for seq in SEQS:
        assert_same_mat(tmp_path / f"{seq}.mat", out / f"{seq}.mat")   # exact: same doubles


def test_single_video_class_holds_the_same_values(tree, baseline, tmp_path):
    out, _ = baseline
    pd.prepare_dataset(tree, tmp_path, sequences=["train_1"], video_class="single",
                       progress=False)
    got, want = loadmat(tmp_path / "train_1.mat"), loadmat(out / "train_1.mat")
    assert got["video"].dtype == np.float32
    np.testing.assert_array_equal(got["video"].astype(np.float64), want["video"])   # exact
    assert got["valence"].dtype == np.float64


def test_boxes_from_csv_equal_boxes_from_mat(tree, baseline, tmp_path):
    out, _ = baseline
    csv_dir = tmp_path / "boxes"
    csv_dir.mkdir()
    bbox, times = avec.read_bbox_mat(files_of(tree, "dev_1")["bbox"])
    rows = ["time;x;y;w;h"] + [";".join(avec.format_number(v) for v in (t, *b))
                               for t, b in zip(times, bbox)]
    (csv_dir / "dev_1.csv").write_text("\n".join(rows) + "\n")
    pd.prepare_dataset(tree, tmp_path / "o", sequences="dev_1", boxes_csv=csv_dir,
                       progress=False)
    assert_same_mat(tmp_path / "o" / "dev_1.mat", out / "dev_1.mat")


def test_no_kept_frame_saves_the_initial_zeros(tree, tmp_path):
    root = clone(tree, tmp_path)
    f = files_of(root, "train_1")
    bbox, times = avec.read_bbox_mat(f["bbox"])
    avec.write_bbox_mat(f["bbox"], np.zeros_like(bbox), times)
    r = pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", progress=False)[0]
    assert (r.kept, r.zero_boxes) == (0, N_FRAMES)
    got = loadmat(tmp_path / "o" / "train_1.mat")
    assert got["video"].shape == (96, 96) and not got["video"].any()
    assert got["video"].dtype == np.float64
    np.testing.assert_array_equal(got["valence"], [[0.0]])
    np.testing.assert_array_equal(got["video_time"], [[0.0]])


def test_one_kept_frame_is_a_96x96_matrix(tree, tmp_path):
    root = clone(tree, tmp_path)
    f = files_of(root, "train_1")
    bbox, times = avec.read_bbox_mat(f["bbox"])
    keep = np.zeros_like(bbox)
    keep[3] = (10.4, 20.5, 150.2, 149.9)
    avec.write_bbox_mat(f["bbox"], keep, times)
    pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", progress=False)
    got = loadmat(tmp_path / "o" / "train_1.mat")
    ref = reference(root, "train_1")
    assert got["video"].shape == (96, 96)         # MATLAB has no trailing singleton dimension
    np.testing.assert_array_equal(got["video"], ref["video"][:, :, 0])
    np.testing.assert_array_equal(got["video_time"], [[times[3]]])


def test_zero_sum_box_is_skipped_like_the_script(tree, tmp_path):
    # sum(cur_bbox,2) ~= 0 is the script's "is there a face": a box whose numbers add up to
    # zero is skipped even when it is large
    root = clone(tree, tmp_path)
    f = files_of(root, "train_1")
    bbox, times = avec.read_bbox_mat(f["bbox"])
    kept = [i for i in range(N_FRAMES) if pd.box_status(bbox[i]) == "kept"]
    bbox[kept[0]] = (-200.0, -100.0, 150.0, 150.0)
    avec.write_bbox_mat(f["bbox"], bbox, times)
    assert pd.box_status(bbox[kept[0]]) == "zero"
    r = pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", progress=False)[0]
    ref = reference(root, "train_1")
    assert r.kept == ref["video"].shape[2] == len(kept) - 1


def test_detect_faces_runs_without_box_files(tree, tmp_path):
    root = clone(tree, tmp_path)
    shutil.rmtree(root / "data" / "bbox")
    r = pd.prepare_dataset(root, tmp_path / "o", sequences="dev_1", detect_faces=True,
                           progress=False)[0]
    assert r.kept + r.zero_boxes + r.small_boxes == N_FRAMES == r.frames
    got = loadmat(tmp_path / "o" / "dev_1.mat")
    n = max(r.kept, 1)
    assert got["valence"].shape == got["video_time"].shape == (1, n)


def test_detect_faces_finds_a_real_face(tree, tmp_path):
    """--detect-faces with the real MTCNN model on a video made from a real photograph: the
    face is found in every frame that has one and cropped as the script crops a box."""
    from matlab_ports.face_detector import FaceDetector
    from tests.face_video import FACE_REGION, astronaut_frames, write_video
    root = clone(tree, tmp_path)
    shutil.rmtree(root / "data" / "bbox")
    f = files_of(root, "dev_1")
    frames = astronaut_frames(5, blank=(2,))
    write_video(f["video"], frames)
    rows = f["csv"].read_text().splitlines()
    f["csv"].write_text("\n".join(rows[:1 + len(frames)]) + "\n")
    r = pd.prepare_dataset(root, tmp_path / "o", sequences="dev_1", detect_faces=True,
                           progress=False)[0]
    assert (r.frames, r.kept, r.zero_boxes, r.small_boxes) == (5, 4, 1, 0)
    got = loadmat(tmp_path / "o" / "dev_1.mat")
    assert got["video"].shape == (96, 96, 4)
    detector = FaceDetector(min_face=100)
    decoded = decoded_frames(f["video"])
    for n, k in enumerate((0, 1, 3, 4)):
        box = detector(decoded[k])
        assert FACE_REGION[0] <= box[0] - 1 and box[0] - 1 + box[2] <= FACE_REGION[2] + 2 * k
        want = pd.crop_face(pd.luma(decoded[k]), box)
        np.testing.assert_array_equal(got["video"][:, :, n], want)   # the same code path


# --------------------------------------------------------------------------------------------
# Helpers against the primitives


def test_luma_equals_rgb2ycbcr():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (61, 47, 3), dtype=np.uint8)
    rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255],
                  [1, 2, 3], [254, 253, 252], [128, 128, 128]]
    # exact: the Y row of rgb2ycbcr's arithmetic, same order, same rounding
    np.testing.assert_array_equal(pd.luma(rgb), rgb2ycbcr(rgb)[:, :, 0])
    np.testing.assert_array_equal(pd.luma(rgb[5:40:2, 3:30]),
                                  rgb2ycbcr(np.ascontiguousarray(rgb[5:40:2, 3:30]))[:, :, 0])


def test_crop_bounds_rules():
    # left=ceil(x), top=ceil(y), right=ceil(x+w-1), bot=ceil(y+h-1), clamped to the frame
    assert pd.crop_bounds((10.2, 20.7, 100.5, 101.1), 240, 320) == (21, 121, 11, 110)
    assert pd.crop_bounds((-5.5, -3, 150, 150), 240, 320) == (1, 146, 1, 144)
    assert pd.crop_bounds((250, 150, 150, 150), 240, 320) == (150, 240, 250, 320)
    assert pd.crop_bounds((400, 10, 150, 150), 240, 320) is None
    assert pd.crop_bounds((-300, 10, 150, 150), 240, 320) is None
    assert pd.crop_bounds((math.nan, 10, 150, 150), 240, 320) is None
    assert pd.crop_bounds((5, 5, math.inf, 150), 240, 320) == (5, 154, 5, 320)
    assert pd.box_status((0, 0, 0, 0)) == "zero"
    assert pd.box_status((5, 5, 100, 150)) == "small"
    assert pd.box_status((5, 5, 100.01, 150)) == "kept"
    assert pd.box_status((math.nan, 5, 150, 150)) == "kept"      # NaN ~= 0, as in MATLAB


# --------------------------------------------------------------------------------------------
# Errors


def test_missing_files_are_named(tree, tmp_path):
    for key, seq in (("video", "train_1"), ("csv", "dev_1"), ("bbox", "train_1"),
                     ("gsd", "dev_1")):
        root = clone(tree, tmp_path / key)
        path = files_of(root, seq)[key]
        os.remove(path)
        with pytest.raises(PortFileError, match=f"{path}: file not found \\(sequence {seq}\\)"):
            pd.prepare_dataset(root, tmp_path / key / "o", sequences=list(SEQS),
                               progress=False)
        assert not os.path.exists(tmp_path / key / "o")
    # by default, the script's sequences that have a video
    root = tmp_path / "video" / "avec"
    reports = pd.prepare_dataset(root, tmp_path / "o", progress=False)
    assert [r.name for r in reports] == ["dev_1"]
    with pytest.raises(PortFileError, match="none of the script's sequences"):
        pd.prepare_dataset(tmp_path, tmp_path / "o2", progress=False)
    with pytest.raises(PortFileError, match="nowhere: AVEC 2016 folder not found"):
        pd.prepare_dataset(tmp_path / "nowhere", tmp_path / "o2", progress=False)


def test_frame_count_mismatch(tree, tmp_path):
    root = clone(tree, tmp_path)
    f = files_of(root, "train_1")
    times = avec.read_frame_times(f["csv"])[:, 1]
    avec.write_frame_times(f["csv"], times[:30])
    with pytest.raises(PortFileError, match=r"train_1\.mp4: 40 decoded frames, but .*train_1"
                                            r"\.csv has 30 rows"):
        pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", progress=False)
    # a CSV longer than the video (its extra times in the box and gold-standard files)
    more = np.concatenate([times, times[-1] + 0.04 * np.arange(1, 6)])
    avec.write_frame_times(f["csv"], more)
    more = avec.read_frame_times(f["csv"])[:, 1]
    bbox, _ = avec.read_bbox_mat(f["bbox"])
    gsd, _ = avec.read_gsd_mat(f["gsd"])
    avec.write_bbox_mat(f["bbox"], np.vstack([bbox, np.tile(bbox[-1], (5, 1))]), more)
    avec.write_gsd_mat(f["gsd"], np.concatenate([gsd, np.zeros(5)]), more)
    with pytest.raises(PortFileError, match=r"train_1\.mp4: 40 decoded frames, but .*train_1"
                                            r"\.csv has 45 rows.*frame 41"):
        pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", progress=False)
    assert not (tmp_path / "o" / "train_1.mat").exists()


def test_unmatched_time_names_sequence_frame_and_time(tree, tmp_path):
    root = clone(tree, tmp_path)
    f = files_of(root, "dev_1")
    gsd, times = avec.read_gsd_mat(f["gsd"])
    bad = times.copy()
    bad[10] += 1e-9
    avec.write_gsd_mat(f["gsd"], gsd, bad)
    with pytest.raises(PortFileError) as e:
        pd.prepare_dataset(root, tmp_path / "o", sequences="dev_1", progress=False)
    msg = str(e.value)
    assert "sequence dev_1, frame 11" in msg and f"time {float(times[10])!r}" in msg
    assert f"no gold-standard value in {f['gsd']}" in msg and "No matched bbox or gsd!" in msg


def test_repeated_times(tree, tmp_path):
    root = clone(tree, tmp_path)
    f = files_of(root, "train_1")
    bbox, times = avec.read_bbox_mat(f["bbox"])
    gsd, _ = avec.read_gsd_mat(f["gsd"])
    status = [pd.box_status(b) for b in bbox]
    skipped, kept = status.index("zero"), status.index("kept")
    # a repeated gold-standard time at a skipped frame is harmless, as in the script
    avec.write_gsd_mat(f["gsd"], np.append(gsd, 0.5), np.append(times, times[skipped]))
    pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", progress=False)
    # at a kept frame, it is an error
    avec.write_gsd_mat(f["gsd"], np.append(gsd, 0.5), np.append(times, times[kept]))
    with pytest.raises(PortFileError, match=f"frame {kept + 1} .*2 gold-standard values"):
        pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", force=True,
                           progress=False)
    # a repeated box time always is
    avec.write_gsd_mat(f["gsd"], gsd, times)
    avec.write_bbox_mat(f["bbox"], np.vstack([bbox, bbox[skipped]]),
                        np.append(times, times[skipped]))
    with pytest.raises(PortFileError, match=f"frame {skipped + 1} .*2 face boxes"):
        pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", force=True,
                           progress=False)


def test_box_outside_the_frame(tree, tmp_path):
    root = clone(tree, tmp_path)
    f = files_of(root, "train_1")
    bbox, times = avec.read_bbox_mat(f["bbox"])
    k = [pd.box_status(b) for b in bbox].index("kept")
    bbox[k] = (500.0, 10.0, 150.0, 150.0)
    avec.write_bbox_mat(f["bbox"], bbox, times)
    with pytest.raises(PortFileError, match=f"frame {k + 1} .*leaves nothing of the 320 x 240"):
        pd.prepare_dataset(root, tmp_path / "o", sequences="train_1", progress=False)


def test_unreadable_arff(tree, tmp_path):
    root = clone(tree, tmp_path)
    path = files_of(root, "dev_1")["arff"]
    path.write_text("@relation x\n@attribute frameTime numeric\n@data\n0.0\nnot-a-number\n")
    with pytest.raises(PortFileError, match=f"{path}:5: .*not a number"):
        pd.prepare_dataset(root, tmp_path / "o", sequences="dev_1", gold="arff",
                           progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(factor=0), "factor: expected a positive finite number"),
    (dict(factor=-4), "factor: expected a positive finite number"),
    (dict(factor=math.nan), "factor: expected a positive finite number"),
    (dict(factor="x"), "factor: expected a positive number"),
    (dict(video_class="uint8"), "video_class: expected 'double'"),
    (dict(gold="csv"), "gold: expected 'mat'"),
    (dict(mat_version="5"), "mat_version: expected"),
    (dict(size=0), "size: expected a positive integer"),
    (dict(sequences="../train_1"), "sequences: '../train_1' is not a sequence name"),
    (dict(sequences="train_1,train_1"), "sequences: a name is repeated"),
    (dict(detect_faces=True, boxes_csv="x"), "give a box source or the detector"),
    (dict(bbox_dir="x", detect_faces=True), "bbox_dir: not used with boxes_csv or detect"),
    (dict(gold="arff", gsd_dir="x"), "gsd_dir: not used with gold='arff'"),
    (dict(arff_dir="x"), "arff_dir: only used with gold='arff'"),
])
def test_bad_options(tree, tmp_path, kwargs, message):
    with pytest.raises(PortError, match=message):
        pd.prepare_dataset(tree, tmp_path / "o", progress=False, **kwargs)
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------------
# Interrupted runs, skipping, command line


def test_interrupted_run_leaves_no_partial_file(tree, baseline, tmp_path, monkeypatch):
    out, reports = baseline
    calls = {"n": 0}
    resize = pd.bicubic_resize
    stop = reports["train_1"].kept + 5                  # inside dev_1's frame loop

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == stop:
            raise KeyboardInterrupt
        return resize(*args, **kwargs)

    monkeypatch.setattr(pd, "bicubic_resize", failing)
    with pytest.raises(KeyboardInterrupt):
        pd.prepare_dataset(tree, tmp_path, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["train_1.mat"]    # dev_1: nothing, no temporary
    monkeypatch.setattr(pd, "bicubic_resize", resize)
    again = pd.prepare_dataset(tree, tmp_path, progress=False)
    assert [(r.name, r.skipped) for r in again] == [("train_1", True), ("dev_1", False)]
    for seq in SEQS:
        assert_same_mat(tmp_path / f"{seq}.mat", out / f"{seq}.mat")
    forced = pd.prepare_dataset(tree, tmp_path, sequences="train_1", force=True,
                                progress=False)
    assert not forced[0].skipped and forced[0].kept == reports["train_1"].kept


def test_cli(tree, tmp_path, capsys):
    out = tmp_path / "o"
    assert pd.main(["--avec", str(tree), "--out", str(out), "--sequences", "dev_1",
                    "--quiet"]) == 0
    text = capsys.readouterr().out
    assert f"-> {out / 'dev_1.mat'} (video 96x96x" in text and "zero boxes" in text
    assert f"wrote 1 of 1 sequences to {out}" in text
    assert pd.main(["--avec", str(tree), "--out", str(out), "--sequences", "dev_1",
                    "--quiet"]) == 0
    assert "skipped" in capsys.readouterr().out
    assert pd.main(["--avec", str(tree), "--out", str(out), "--sequences", "dev_9",
                    "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "dev_9.mp4: file not found (sequence dev_9)" in err
    assert pd.main(["--avec", str(tree), "--out", str(out), "--factor", "-2", "--quiet"]) == 1
    assert "factor: expected a positive finite number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        pd.main(["--help"])
    assert e.value.code == 0
    assert "--detect-faces" in capsys.readouterr().out
