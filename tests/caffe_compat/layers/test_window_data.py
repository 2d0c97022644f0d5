"""WindowData: batches equal real Caffe 1.0's (fg/bg sampling and mirrors from Caffe's
stream, context padding, square and warp crops, cached images, mean file and mean values),
and bad window files fail naming the line."""
import pytest

from caffe_compat import Net
from caffe_compat.data.window_file import c_round
from caffe_compat.errors import CaffeCompatError, DataError
from tests.caffe_compat import data_fixtures as fx
from tests.caffe_compat.layers.test_data import assert_batches_equal, run_case

CASES = sorted(c for c in fx.cases()["nets"] if c.startswith("w"))


@pytest.fixture(scope="module")
def means():
    return {m: str(fx.FIXTURES / f"{m}.binaryproto") for m in fx.cases()["means"]}


@pytest.mark.parametrize("case", CASES)
def test_batches_equal_real_caffe(case, means, tmp_path):
    want = fx.batches(case)
    assert_batches_equal(case, run_case(case, tmp_path, means, len(want)), want)


def _net(wf, params="", transform="crop_size: 4"):
    return ('layer { name: "windows" type: "WindowData" top: "data" top: "label"\n'
            f'  window_data_param {{ source: "{wf}" root_folder: "{fx.IMAGES}/" batch_size: 2 '
            f'{params} }}\n  transform_param {{ {transform} }} }}\n')


def test_c_round_halves_away_from_zero():
    assert [c_round(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999998)] == [1, 2, 3, -1, -2, 2]


def test_bad_token_names_the_line(tmp_path):
    wf = tmp_path / "w.txt"
    wf.write_text("# 0\nw0.png\n3\n17\n21\n1\n1 0.8 2 three 12 11\n")
    with pytest.raises(DataError, match=r"w.txt:7: expected a window's y1 \(a number\), got "
                                        "'three'"):
        Net(_net(wf), phase="train")


def test_truncated_file(tmp_path):
    wf = tmp_path / "w.txt"
    wf.write_text("# 0\nw0.png\n3\n17\n21\n2\n1 0.8 2 3 12 11\n")
    with pytest.raises(DataError, match="ends where a window's class index was expected"):
        Net(_net(wf), phase="train")


def test_needs_foreground_and_background(tmp_path):
    wf = tmp_path / "w.txt"
    wf.write_text("# 0\nw0.png\n3\n17\n21\n1\n1 0.8 2 3 12 11\n")
    with pytest.raises(DataError, match="1 foreground and 0 background windows"):
        Net(_net(wf), phase="train")


def test_foreground_label_must_be_positive(tmp_path):
    wf = tmp_path / "w.txt"
    wf.write_text("# 0\nw0.png\n3\n17\n21\n1\n0 0.8 2 3 12 11\n")
    with pytest.raises(DataError, match="w.txt:7: a foreground window"):
        Net(_net(wf), phase="train")


def test_window_outside_the_image_in_warp_mode(tmp_path):
    wf = tmp_path / "w.txt"
    wf.write_text("# 0\nw0.png\n3\n17\n21\n2\n1 0.8 2 3 40 11\n0 0.1 0 0 5 5\n")
    net = Net(_net(wf, "fg_fraction: 1"), phase="train", seed=1)
    with pytest.raises(DataError, match="does not fit the 21 x 17 image"):
        net.forward()
    net.layers["windows"].close()


def test_crop_size_required(tmp_path):
    wf = tmp_path / "w.txt"
    wf.write_text("# 0\nw0.png\n3\n17\n21\n2\n1 0.8 2 3 12 11\n0 0.1 0 0 5 5\n")
    with pytest.raises(CaffeCompatError, match="crop_size must be positive"):
        Net(_net(wf, transform=""), phase="train")
