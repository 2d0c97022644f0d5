"""reproduction.cue_survival: the HOG probe of how much valence cue survives downsampling."""
import numpy as np
import pytest

from reproduction import claims as C
from reproduction import cue_survival as CS
from reproduction import statistics as S


def test_hog_shape_and_normalisation():
    face = np.random.default_rng(0).random((96, 96))
    h = CS.hog(face)
    # 16 x 16 cells of 6 pixels -> 15 x 15 blocks of 2 x 2 cells x 9 bins
    assert h.shape == (15 * 15 * 4 * 9,)
    blocks = h.reshape(15, 15, 36)
    # each block L2-normalised after clipping at 0.2 (1e-6: the 1e-12 guard in the norm)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-6)
    # a horizontal edge puts its gradient in the vertical-gradient bin (pi/2 -> bin 4)
    edge = np.zeros((96, 96))
    edge[48:] = 1.0
    cells = CS.hog(edge).reshape(15, 15, 4, 9)
    assert cells[7, 7, 0].argmax() == 4


def test_probe_reads_a_linear_cue_and_survival_on_crops(tmp_path):
    from matlab_ports.matfile import savemat
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:96, 0:96]
    for name in ("train_1", "dev_1"):
        n = 120
        v = np.sin(np.arange(n) / 7.0 + (0 if name == "train_1" else 1.3))
        # a mouth-like bar whose tilt follows valence, plus noise
        video = np.stack([((np.abs(yy - 60 - v[k] * (xx - 48) / 12) < 1.5) &
                           (np.abs(xx - 48) < 20)).astype(float) * 0.8
                          + 0.05 * rng.normal(size=(96, 96)) for k in range(n)], axis=2)
        for folder in ("hr", "lr"):
            (tmp_path / folder).mkdir(exist_ok=True)
            savemat(str(tmp_path / folder / f"{name}.mat"),
                    {"video": video.astype(np.float32).astype(np.float64),
                     "valence": v[None, :]}, version="6")
    units = C.Units({"dev_1": 120})
    r = S.Resampler(units.count, resamples=300)
    level, lost = CS.survival({"HR": str(tmp_path / "hr"), "LR-x": str(tmp_path / "lr")},
                              ["train_1"], ["dev_1"], units, r)
    assert level["HR"].estimate > 0.8
    # the same crops under two names: nothing lost, paired exactly
    assert lost["LR-x"].estimate == pytest.approx(0.0, abs=1e-12)


def test_cli_error_names_the_folder(tmp_path, capsys):
    assert CS.main(["--out", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert "none" in err and "finished demo or reproduce folder" in err
