"""Figure 4 study: x264 encoding through PyAV, bits per pixel, the LR pipeline's resizing."""
import math

import numpy as np
import pytest

from reproduction import rate_distortion as RD


def _frames(n=12, size=32, seed=0):
    """Smooth moving grey pattern with a little noise: N x size x size uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    out = []
    for i in range(n):
        v = 128 + 60 * np.sin((x + 1.5 * i) / 5.0) * np.cos((y - i) / 7.0)
        v += rng.normal(0, 4, v.shape)
        out.append(np.clip(np.round(v), 0, 255).astype(np.uint8))
    return np.stack(out)


def test_bpp_non_increasing_as_qp_grows():
    frames = _frames()
    pixels = frames.size
    bpp = []
    for qp in (4, 12, 20, 28, 36, 44, 51):
        enc = RD.encode_decode(frames, qp)
        assert enc.frames.shape == frames.shape
        bpp.append(8.0 * enc.bytes / pixels)
    # a coarser quantiser never needs more bits on the same frames (x264 constant QP)
    assert all(b <= a for a, b in zip(bpp, bpp[1:])), bpp
    # and the range is not degenerate: QP 4 costs several times QP 51
    assert bpp[0] > 3 * bpp[-1]


def test_qp0_is_lossless_and_encoding_is_reproducible():
    frames = _frames(n=6)
    a = RD.encode_decode(frames, 0)
    # x264's --qp 0 is lossless coding (exact 8-bit round trip), so tolerance 0
    np.testing.assert_array_equal(a.frames, frames)
    b = RD.encode_decode(frames, 0)
    # one thread, no B frames, no mbtree: the same bytes on every run
    assert a.packet_bytes == b.packet_bytes and a.vcl_bytes == b.vcl_bytes


def test_headers_counted_and_vcl_subset():
    enc = RD.encode_decode(_frames(n=4), 30)
    # packets include SPS/PPS/SEI; the slice data is a strict part of them
    assert 0 < enc.vcl_bytes < enc.bytes


def test_nal_unit_parser():
    data = (b"\x00\x00\x00\x01\x67\xaa\xbb" + b"\x00\x00\x01\x68\xcc" +
            b"\x00\x00\x00\x01\x65\x01\x02\x03")
    # types 7 (SPS), 8 (PPS), 5 (IDR slice); payload sizes exclude start codes
    assert RD.nal_units(data) == [(7, 3), (8, 2), (5, 4)]


def test_quantise_and_resize_match_the_lr_pipeline():
    from matlab_ports.prepare_dataset import bicubic_resize
    rng = np.random.default_rng(1)
    video = rng.random((96, 96, 3)).astype(np.float32)
    low = RD.downsample(video, 3)
    assert low.shape == (32, 32, 3) and low.dtype == np.float32
    for n in range(3):
        # the same MATLAB-exact bicubic arithmetic, so tolerance 0
        np.testing.assert_array_equal(low[:, :, n], bicubic_resize(video[:, :, n], scale=1 / 3))
    up = RD.upsample(low)
    np.testing.assert_array_equal(up[:, :, 1], bicubic_resize(low[:, :, 1],
                                                              output_size=(96, 96)))
    q = RD.quantise(np.array([[[0.5 / 255, 1.5 / 255, -0.2, 1.3]]]).reshape(1, 4, 1))
    # round half up of 255*v, clipped to 0..255
    assert q.tolist() == [[[1, 2, 0, 255]]]


def test_study_rows_bpp_and_monotone():
    rng = np.random.default_rng(2)
    t = np.linspace(0, 1, 10)
    video = np.repeat(np.linspace(0.2, 0.8, 96)[:, None], 96, 1)[:, :, None] + \
        0.1 * np.sin(6 * t)[None, None, :] + 0.02 * rng.random((96, 96, 10))
    valence = np.sin(6 * t)

    def predict(net, frames):           # a stand-in for a CNN+D: mean brightness
        return frames.reshape(-1, frames.shape[2]).mean(0) * net

    rows = RD.study([("dev_1", video, valence)], {"A": 1.0, "B": -1.0}, factors=[4],
                    qps=[10, 30, 50], frame_step=3, predict=predict, progress=False)
    assert len(rows) == 6
    r = rows[0]
    assert r["lr_size"] == 24 and r["frames"] == 10 and r["frames_evaluated"] == 4
    assert r["luma_pixels"] == 10 * 24 * 24
    # bpp is exactly 8 bits per byte over the luma pixels of the LR frames
    assert r["bpp"] == pytest.approx(8 * r["bytes"] / r["luma_pixels"], rel=1e-15)
    bpp = [x["bpp"] for x in rows if x["model"] == "A"]
    assert all(b <= a for a, b in zip(bpp, bpp[1:]))
    # B predicts -A: same |CC|, opposite sign (metric symmetry), up to rounding
    a = [x["cc"] for x in rows if x["model"] == "A"]
    b = [x["cc"] for x in rows if x["model"] == "B"]
    np.testing.assert_allclose(a, [-v for v in b], atol=1e-12)


def test_csv_and_plot_round_trip(tmp_path):
    rows = [dict(s=3, qp=q, model=m, frames=10, frames_evaluated=10, lr_size=32, bytes=100 - q,
                 vcl_bytes=50, luma_pixels=10240, bpp=8 * (100 - q) / 10240, bpp_vcl=0.04,
                 psnr_lr=40.0, rmse=0.2, cc=0.5 - q / 100, ccc=0.3, pearson_r=0.5,
                 ccc_avec=0.3) for q in (20, 30) for m in ("HR", "LR-3")]
    path = RD.write_csv(rows, tmp_path / "f.csv")
    back = RD.read_csv(path)
    assert back[1]["model"] == "LR-3" and back[1]["qp"] == 20
    # written with repr(): floats read back exactly
    assert back[2]["cc"] == rows[2]["cc"]
    RD.plot(back, tmp_path / "f.png", tmp_path / "b.png")
    for name in ("f.png", "b.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("bad", [-1, 52, 2.5, True])
def test_bad_qp_is_rejected(bad):
    with pytest.raises(RD.RDError, match="QP"):
        RD.encode_decode(_frames(n=2), bad)


def test_bad_frames_are_rejected():
    with pytest.raises(RD.RDError, match="even"):
        RD.encode_decode(np.zeros((2, 31, 32), np.uint8), 20)
    with pytest.raises(RD.RDError, match="96 x 96"):
        RD.study([("dev_1", np.zeros((64, 64, 2)), np.zeros(2))], {"A": None}, [3], [20],
                 predict=lambda n, f: np.zeros(f.shape[2]), progress=False)
    assert math.isfinite(RD.DEFAULT_QPS[0])
