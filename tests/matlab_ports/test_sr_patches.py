"""generate_train.m / generate_test.m ports: patch counts, datasets equal to a straight
transcription of the scripts, file layout, errors, atomic output."""
import os
import shutil

import h5py
import numpy as np
import pytest

from matlab_ports import (MatlabRandomStream, PortError, imread, imresize, imwrite, modcrop,
                          rgb2ycbcr, store2hdf5)
from matlab_ports import generate_test, generate_train, sr_patches
from matlab_ports.errors import PortFileError
from tests.conftest import public_input


# --------------------------------------------------------------------------------------------
# The reference: the scripts line by line, every patch in one array, then randperm and the
# chunk loop with store2hdf5.

def reference_h5(folder, path, scale, stride, size_input, size_label, chunksz, seed=0):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".bmp"))    # ASCII names
    padding = abs(size_input - size_label) // 2
    data, label = [], []
    for name in names:
        image = imread(os.path.join(folder, name))
        if image.ndim == 3:
            image = rgb2ycbcr(image)[:, :, 0]
        image = image.astype(np.float64) / 255
        im_label = modcrop(image, scale)
        hei, wid = im_label.shape
        im_input = imresize(imresize(im_label, 1 / scale, method="bicubic"),
                            output_size=(hei, wid), method="bicubic")
        for x in range(1, hei - size_input + 2, stride):
            for y in range(1, wid - size_input + 2, stride):
                data.append(im_input[x - 1:x + size_input - 1, y - 1:y + size_input - 1])
                label.append(im_label[x + padding - 1:x + padding + size_label - 1,
                                      y + padding - 1:y + padding + size_label - 1])
    count = len(data)
    data = np.stack(data, axis=-1)[:, :, None, :]          # [size_input size_input 1 count]
    label = np.stack(label, axis=-1)[:, :, None, :]
    order = MatlabRandomStream(seed).randperm(count)
    data = data[:, :, :, order - 1]
    label = label[:, :, :, order - 1]
    created, totalct = False, 0
    for batchno in range(1, count // chunksz + 1):
        last_read = (batchno - 1) * chunksz
        startloc = {"dat": [1, 1, 1, totalct + 1], "lab": [1, 1, 1, totalct + 1]}
        sizes = store2hdf5(path, data[:, :, :, last_read:last_read + chunksz],
                           label[:, :, :, last_read:last_read + chunksz], not created, startloc,
                           chunksz)
        created = True
        totalct = sizes[0][-1]
    return count, totalct


def assert_same_h5(got, want, chunksz):
    with h5py.File(got, "r") as a, h5py.File(want, "r") as b:
        assert sorted(a) == sorted(b) == ["data", "label"]
        for name in ("data", "label"):
            x, y = a[name], b[name]
            assert x.shape == y.shape and x.dtype == y.dtype == np.dtype("<f4")
            assert x.chunks == y.chunks and x.chunks[0] == chunksz
            assert x.maxshape == y.maxshape == (None,) + x.shape[1:]
            # tolerance 0: the same double patches rounded once to single
            np.testing.assert_array_equal(x[()], y[()])


def copy_images(src, dst, names):
    os.makedirs(dst, exist_ok=True)
    for n in names:
        shutil.copy(os.path.join(src, n), os.path.join(dst, n))
    return dst


@pytest.fixture(scope="module")
def train_dir():
    return public_input("sr-images", "Train")


@pytest.fixture(scope="module")
def five_images(train_dir, tmp_path_factory):
    names = sorted(os.listdir(train_dir))
    pick = [names[i] for i in (0, 17, 40, 63, 90)]
    return copy_images(train_dir, tmp_path_factory.mktemp("five"), pick)


# --------------------------------------------------------------------------------------------
# Equality with the transcription (the full-size runs take about 5 s each)


def test_five_images_equal_reference(five_images, tmp_path):
    out = tmp_path / "train.h5"
    res = generate_train.generate_train(folder=five_images, out=out, progress=False)
    count, stored = reference_h5(five_images, tmp_path / "ref.h5", 12, 14, 32, 16, 128)
    assert (res.count, res.stored) == (count, stored) and res.images == 5
    assert res.stored == res.count // 128 * 128 and res.dropped == res.count - res.stored
    assert sum(n for _, n in res.per_image) == count
    assert_same_h5(out, tmp_path / "ref.h5", 128)
    assert (tmp_path / "train.txt").read_text() == str(out.resolve()) + "\n"


@pytest.mark.parametrize("write_samples", [1, 5, 4096])
def test_batching_does_not_change_the_file(five_images, tmp_path, monkeypatch, write_samples):
    # appends of 1 chunk, of 2 chunks (5 -> 4 samples), of many: the datasets are the same
    monkeypatch.setattr(sr_patches, "_WRITE_SAMPLES", write_samples)
    out = tmp_path / "t.h5"
    sr_patches.generate_patches(five_images, out, 12, 20, 32, 16, 2, seed=7, progress=False)
    reference_h5(five_images, tmp_path / "ref.h5", 12, 20, 32, 16, 2, seed=7)
    assert_same_h5(out, tmp_path / "ref.h5", 2)


def test_set5_generate_test_defaults(tmp_path):
    set5 = public_input("sr-images", "Set5")
    out = tmp_path / "test_h5" / "test_lr12.h5"
    res = generate_test.generate_test(folder=set5, out=out, progress=False)
    assert res.stored == 1218 and res.count - res.stored < 2
    count, stored = reference_h5(set5, tmp_path / "ref.h5", 12, 20, 32, 16, 2)
    assert (res.count, res.stored) == (count, stored)
    assert_same_h5(out, tmp_path / "ref.h5", 2)
    with h5py.File(out, "r") as f:
        assert f["data"].shape == (1218, 1, 32, 32) and f["label"].shape == (1218, 1, 16, 16)


def test_91_images_scale12_equal_reference(train_dir, tmp_path):
    out = tmp_path / "train_lr12.h5"
    res = generate_train.generate_train(folder=train_dir, out=out, progress=False)
    assert (res.images, res.count, res.stored) == (91, 21332, 21248)
    assert reference_h5(train_dir, tmp_path / "ref.h5", 12, 14, 32, 16, 128) == (21332, 21248)
    assert_same_h5(out, tmp_path / "ref.h5", 128)


def test_91_images_srcnn_setting_equal_reference(train_dir, tmp_path):
    out = tmp_path / "train_x3.h5"
    res = generate_train.generate_train(folder=train_dir, out=out, scale=3, stride=14,
                                        size_input=33, size_label=21, progress=False)
    assert (res.count, res.stored) == (21884, 21760)
    assert reference_h5(train_dir, tmp_path / "ref.h5", 3, 14, 33, 21, 128) == (21884, 21760)
    assert_same_h5(out, tmp_path / "ref.h5", 128)


# --------------------------------------------------------------------------------------------
# Script rules


def test_dir_order_and_case(tmp_path):
    for n in ("b.bmp", "B.bmp", "_a.bmp", "a10.bmp", "a9.bmp", "c.BMP", "d.png"):
        (tmp_path / n).write_bytes(b"")
    names = [os.path.basename(p) for p in sr_patches.list_images(tmp_path)]
    assert names == ["B.bmp", "_a.bmp", "a10.bmp", "a9.bmp", "b.bmp"]


def test_grey_image_is_its_own_y(tmp_path):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (70, 83), dtype=np.uint8)
    imwrite(grey, tmp_path / "g.bmp")
    assert imread(tmp_path / "g.bmp").ndim == 2
    y = sr_patches.load_luma(tmp_path / "g.bmp")
    np.testing.assert_array_equal(y, grey / 255.0)     # exact: the same division
    res = sr_patches.generate_patches(tmp_path, tmp_path / "g.h5", 3, 7, 20, 10, 4,
                                      progress=False)
    ref = tmp_path / "ref"
    ref.mkdir()
    reference_h5(tmp_path, ref / "r.h5", 3, 7, 20, 10, 4)
    assert res.stored > 0
    assert_same_h5(tmp_path / "g.h5", ref / "r.h5", 4)


def test_patch_indices_match_the_script(five_images):
    plan = sr_patches.plan_patches(five_images, 12, 14, 32, 16)
    im = plan.images[0]
    hei, wid = im.label.shape
    xs = list(range(1, hei - 32 + 2, 14))
    ys = list(range(1, wid - 32 + 2, 14))
    assert im.patches == len(xs) * len(ys)
    # patch 2 of image 1: x = 1, y = 15 (columns run fastest)
    data, label = plan.batch([1])
    np.testing.assert_array_equal(data[0, 0].T, im.input[0:32, 14:46])
    np.testing.assert_array_equal(label[0, 0].T, im.label[8:24, 22:38])


def test_seed_changes_only_the_order(five_images, tmp_path):
    a = sr_patches.generate_patches(five_images, tmp_path / "a.h5", 12, 14, 32, 16, 1,
                                    seed=0, progress=False)
    sr_patches.generate_patches(five_images, tmp_path / "b.h5", 12, 14, 32, 16, 1, seed=3,
                                progress=False)
    with h5py.File(tmp_path / "a.h5", "r") as f, h5py.File(tmp_path / "b.h5", "r") as g:
        x, y = f["data"][()], g["data"][()]
    assert x.shape[0] == a.count
    assert not np.array_equal(x, y)
    key = lambda d: np.sort(d.reshape(d.shape[0], -1), axis=0)  # noqa: E731
    np.testing.assert_array_equal(key(x), key(y))


def test_label_larger_than_input_follows_the_script(tmp_path):
    # padding = abs(16 - 20)/2 = 2: the label starts 2 pixels in and runs past the input patch;
    # where it leaves the image, MATLAB stops with an index error
    rng = np.random.default_rng(2)
    imwrite(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8), tmp_path / "a.bmp")
    with pytest.raises(PortError, match=r"a\.bmp.*label window.*exceeds the 40 x 40 image"):
        sr_patches.generate_patches(tmp_path, tmp_path / "x.h5", 2, 12, 16, 20, 1,
                                    progress=False)
    # with a stride that keeps every label inside, the patches are written
    res = sr_patches.generate_patches(tmp_path, tmp_path / "x.h5", 2, 18, 16, 20, 1,
                                      progress=False)
    assert res.count == 4
    ref = tmp_path / "ref"
    ref.mkdir()
    reference_h5(tmp_path, ref / "r.h5", 2, 18, 16, 20, 1)
    assert_same_h5(tmp_path / "x.h5", ref / "r.h5", 1)


# --------------------------------------------------------------------------------------------
# Errors and atomic output


def test_errors_name_the_problem(tmp_path, five_images):
    with pytest.raises(PortFileError, match="nowhere: image folder not found"):
        sr_patches.generate_patches(tmp_path / "nowhere", tmp_path / "o.h5", 12, 14, 32, 16, 128,
                                    progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PortFileError, match=r"empty: no files matching '\*\.bmp'"):
        sr_patches.generate_patches(empty, tmp_path / "o.h5", 12, 14, 32, 16, 128,
                                    progress=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.bmp").write_bytes(b"BM not really")
    with pytest.raises(PortFileError, match="broken.bmp: not a readable image"):
        sr_patches.generate_patches(bad, tmp_path / "o.h5", 12, 14, 32, 16, 128, progress=False)
    with pytest.raises(PortError, match=r"padding = abs\(32 - 15\)/2 = 8.5"):
        sr_patches.generate_patches(five_images, tmp_path / "o.h5", 12, 14, 32, 15, 128,
                                    progress=False)
    for kw, msg in ((dict(scale=0), "scale: expected a positive integer"),
                    (dict(stride=-1), "stride: expected a positive integer"),
                    (dict(chunksz=0), "chunksz: expected a positive integer"),
                    (dict(size_input=2.5), "size_input: expected a positive integer"),
                    (dict(seed=-1), "seed: expected an integer")):
        args = dict(scale=12, stride=14, size_input=32, size_label=16, chunksz=128)
        args.update(kw)
        with pytest.raises(PortError, match=msg):
            sr_patches.generate_patches(five_images, tmp_path / "o.h5", progress=False, **args)
    assert not (tmp_path / "o.h5").exists()


def test_fewer_patches_than_a_chunk_writes_nothing(five_images, tmp_path):
    out = tmp_path / "o.h5"
    out.write_bytes(b"previous")
    with pytest.raises(PortError, match=r"patches, fewer than one chunk of 100000"):
        sr_patches.generate_patches(five_images, out, 12, 14, 32, 16, 100000, progress=False)
    assert out.read_bytes() == b"previous"


def test_interrupted_write_leaves_no_file(five_images, tmp_path, monkeypatch):
    monkeypatch.setattr(sr_patches, "_WRITE_SAMPLES", 2)
    calls = {"n": 0}
    batch = sr_patches.PatchPlan.batch

    def failing(self, which):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return batch(self, which)

    monkeypatch.setattr(sr_patches.PatchPlan, "batch", failing)
    out = tmp_path / "o.h5"
    with pytest.raises(KeyboardInterrupt):
        sr_patches.generate_patches(five_images, out, 12, 14, 32, 16, 2, progress=False)
    assert os.listdir(tmp_path) == []                    # no h5, no temporary, no list file
    monkeypatch.setattr(sr_patches.PatchPlan, "batch", batch)
    sr_patches.generate_patches(five_images, out, 12, 14, 32, 16, 2, progress=False)
    reference_h5(five_images, tmp_path / "ref.h5", 12, 14, 32, 16, 2)
    assert_same_h5(out, tmp_path / "ref.h5", 2)


def test_cli(five_images, tmp_path, capsys):
    out = tmp_path / "h5" / "train.h5"
    assert generate_train.main(["--folder", str(five_images), "--out", str(out), "--stride",
                                "20", "--chunk", "16", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out} (data [32 32 1 " in text and "5 images" in text
    assert f"wrote {tmp_path / 'h5' / 'train.txt'}" in text
    reference_h5(five_images, tmp_path / "ref.h5", 12, 20, 32, 16, 16)
    assert_same_h5(out, tmp_path / "ref.h5", 16)
    assert generate_test.main(["--folder", str(tmp_path / "none"), "--out",
                               str(tmp_path / "t.h5"), "--quiet"]) == 1
    assert "error: " in capsys.readouterr().err
    assert generate_test.main(["--folder", str(five_images), "--out", str(tmp_path / "t.h5"),
                               "--list", "", "--quiet"]) == 0
    assert (tmp_path / "t.h5").exists() and not (tmp_path / "t.txt").exists()


def test_help_shows_the_script_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        generate_train.main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "train_h5/train_lr12.h5" in text and "default 128" in text and "default 14" in text
    with pytest.raises(SystemExit):
        generate_test.main(["--help"])
    text = capsys.readouterr().out
    assert "default 20" in text and "default 2)" in text
