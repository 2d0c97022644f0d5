"""Class conversions, rounding, statistics, image files and the SR bicubic baseline."""
import os

import numpy as np
import pytest

from matlab_ports import (PortError, im2double, im2single, im2uint8, imread, imresize, imwrite,
                          mean, modcrop, mround, psnr, rgb2ycbcr, std, to_class, var)
from matlab_ports.errors import PortFileError
from tests.conftest import public_input


def test_round_half_away_from_zero():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994, -0.49999999999999994, 2.4, np.nan,
                  np.inf, 4503599627370497.0])
    r = mround(x)
    # Tolerance: none; rounding results are integers.
    assert r[:8].tolist() == [1, 2, 3, -1, -3, 0, -0.0, 2]
    assert np.isnan(r[8]) and r[9] == np.inf and r[10] == 4503599627370497.0
    assert mround(np.float32([2.5, -3.5])).dtype == np.float32
    assert mround(np.array([3], np.uint8)).tolist() == [3]


def test_integer_conversion_saturates_and_maps_nan_to_zero():
    x = np.array([-3.2, 254.5, 255.49, 300.0, np.nan, 0.5])
    # Tolerance: none; integer results.
    assert to_class(x, "uint8").tolist() == [0, 255, 255, 255, 0, 1]
    assert to_class(np.array([-128.5, 127.5, -0.5]), "int8").tolist() == [-128, 127, -1]
    assert to_class(np.array([70000.0]), "uint16").tolist() == [65535]
    assert to_class(np.array([1, 0, 2]), "logical").tolist() == [True, False, True]
    with pytest.raises(PortError, match="NaN"):
        to_class(np.array([np.nan]), "logical")
    with pytest.raises(PortError, match="class"):
        to_class(np.zeros(2), "float16")


def test_im2double_im2single():
    u8 = np.arange(256, dtype=np.uint8)
    assert np.array_equal(im2double(u8), np.arange(256) / 255.0)
    s = im2single(u8)
    assert s.dtype == np.float32
    # Tolerance: none; single(x)/255 in single precision.
    assert np.array_equal(s, u8.astype(np.float32) / np.float32(255))
    u16 = np.array([0, 65535, 257], np.uint16)
    assert im2double(u16).tolist() == [0.0, 1.0, 257 / 65535]
    assert im2double(np.array([-32768, 32767], np.int16)).tolist() == [0.0, 1.0]
    assert im2double(np.array([True, False])).tolist() == [1.0, 0.0]
    with pytest.raises(PortError, match="img"):
        im2double(np.zeros(3, np.int32))


def test_im2uint8_rules():
    x = np.array([0.0, 1.0, 0.5, 1 / 255 * 0.5, -1.0, 2.0, np.nan, 0.498 / 255])
    # Tolerance: none; integer results.
    assert im2uint8(x).tolist() == [0, 255, 128, 1, 0, 255, 0, 0]
    assert im2uint8(np.float32([0.5])).tolist() == [128]
    assert im2uint8(np.array([0, 128, 65535], np.uint16)).tolist() == [0, 0, 255]
    assert im2uint8(np.array([True, False])).tolist() == [255, 0]
    u = np.arange(256, dtype=np.uint8)
    assert np.array_equal(im2uint8(im2double(u)), u)
    assert np.array_equal(im2uint8(im2single(u)), u)


def test_modcrop_and_shave():
    a = np.zeros((17, 23, 3))
    assert modcrop(a, 4).shape == (16, 20, 3)
    assert modcrop(np.zeros((12, 12)), 12).shape == (12, 12)
    with pytest.raises(PortError, match="modulo"):
        modcrop(a, 0)


def test_statistics_use_matlab_normalisation():
    x = np.array([[1.0, 2.0], [3.0, 5.0], [5.0, 11.0]])
    assert mean(x).tolist() == [[3.0, 6.0]]
    assert mean(x, 2).tolist() == [[1.5], [4.0], [8.0]]
    assert var(x).tolist() == [[4.0, 21.0]]
    assert var(x, 1).tolist() == [[8 / 3, 14.0]]
    # Tolerance: 1e-15 relative; sqrt of an exactly representable variance.
    assert np.allclose(std(x), np.sqrt([[4.0, 21.0]]), rtol=1e-15, atol=0)
    assert var(np.array([[7.0]])).tolist() == [[0.0]]
    assert mean(np.array([1, 2], np.uint8)).dtype == np.float64
    assert mean(np.array([[1.0, 2.0, 3.0]])).tolist() == [[2.0]]
    with pytest.raises(PortError, match="single or double"):
        var(np.array([1, 2], np.uint8))
    with pytest.raises(PortError, match="dim"):
        mean(x, 0)


def test_psnr_formula():
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[0, 0] = 10
    # Tolerance: 1e-12 dB; closed form 20*log10(255/sqrt(100/100)).
    assert abs(psnr(a, b) - 20 * np.log10(255 / 1.0)) < 1e-12
    assert psnr(a, b, border=1) == np.inf
    with pytest.raises(PortError, match="shape"):
        psnr(a, b[:5])


def test_imwrite_imread_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 11, 3)).astype(np.uint8)
    # Tolerance: none; lossless formats.
    imwrite(rgb, tmp_path / "a.png")
    assert np.array_equal(imread(tmp_path / "a.png"), rgb)
    imwrite(rgb, tmp_path / "a.bmp")
    assert np.array_equal(imread(tmp_path / "a.bmp"), rgb)
    x = np.array([[0.0, 1 / 255 * 2.5, 1.2, -0.1]])
    imwrite(x, tmp_path / "d.png")
    assert imread(tmp_path / "d.png").tolist() == [[0, 3, 255, 0]]
    g16 = np.array([[0, 1000, 65535]], np.uint16)
    imwrite(g16, tmp_path / "g.png")
    got = imread(tmp_path / "g.png")
    assert got.dtype == np.uint16 and np.array_equal(got, g16)
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_image_file_errors(tmp_path):
    with pytest.raises(PortFileError, match="not found"):
        imread(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(PortFileError, match="junk.png"):
        imread(tmp_path / "junk.png")
    with pytest.raises(PortError, match="extension"):
        imwrite(np.zeros((2, 2), np.uint8), tmp_path / "x.gif")
    with pytest.raises(PortError, match="HxW"):
        imwrite(np.zeros((2, 2, 4), np.uint8), tmp_path / "x.png")


def test_bridge_is_a_grey_palette_read_as_its_indices():
    path = public_input("sr-images", "Set14", "bridge.bmp")
    raw = path.read_bytes()
    offset = int.from_bytes(raw[10:14], "little")
    header = int.from_bytes(raw[14:18], "little")
    bits = int.from_bytes(raw[28:30], "little")
    palette = np.frombuffer(raw[14 + header:offset], np.uint8).reshape(-1, 4)[:, :3]
    assert bits == 8 and palette.shape[0] == 256
    assert np.array_equal(palette, np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1))
    img = imread(path)
    assert img.ndim == 2 and img.dtype == np.uint8


# Published bicubic baselines (SRCNN / VDSR tables), dB, x2 / x3 / x4.
EXPECTED_PSNR = {"Set5": (33.66, 30.39, 28.42), "Set14": (30.23, 27.54, 26.00)}


def sr_bicubic_psnr(folder, scale):
    values = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".bmp"):
            continue
        img = imread(folder / name)
        y = img if img.ndim == 2 else rgb2ycbcr(img)[:, :, 0]
        y = modcrop(y, scale)
        low = imresize(im2single(y), 1 / scale, method="bicubic")
        up = im2uint8(imresize(low, scale, method="bicubic"))
        values.append(psnr(up, y, border=scale))
    return float(np.mean(values))


@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_sr_bicubic_baseline_psnr(dataset):
    folder = public_input("sr-images", dataset)
    got = tuple(sr_bicubic_psnr(folder, s) for s in (2, 3, 4))
    print(dataset, " / ".join(f"{v:.4f}" for v in got))
    # Tolerance: the published figures are given to 2 decimals, so compare rounded values.
    assert tuple(round(v, 2) for v in got) == EXPECTED_PSNR[dataset]
