"""ImageData: batches equal real Caffe 1.0's (shuffle in Caffe's order, resizing through
OpenCV, rand_skip, grey, mean file, TEST centre crops), and bad lists fail clearly."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import CaffeCompatError, DataError
from tests.caffe_compat import data_fixtures as fx
from tests.caffe_compat.layers.test_data import assert_batches_equal, close, run_case

CASES = sorted(c for c in fx.cases()["nets"] if c.startswith("i"))


@pytest.fixture(scope="module")
def means():
    return {m: str(fx.FIXTURES / f"{m}.binaryproto") for m in fx.cases()["means"]}


@pytest.mark.parametrize("case", CASES)
def test_batches_equal_real_caffe(case, means, tmp_path):
    want = fx.batches(case)
    assert_batches_equal(case, run_case(case, tmp_path, means, len(want)), want)


def _net(lst, params="", root=""):
    return ('layer { name: "images" type: "ImageData" top: "data" top: "label"\n'
            f'  image_data_param {{ source: "{lst}" root_folder: "{root}" batch_size: 2 '
            f'{params} }} }}\n')


def test_label_after_the_last_space(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("sub/a 6.png 6\n")
    net = Net(_net(lst, root=f"{fx.IMAGES}/"), phase="test")
    net.forward()
    assert net.blobs["label"].data.tolist() == [6, 6]
    assert tuple(net.blobs["data"].data.shape) == (2, 3, 12, 12)
    close(net)


def test_missing_list_file(tmp_path):
    with pytest.raises(DataError, match="images.*list file .*nolist.txt' does not exist"):
        Net(_net(tmp_path / "nolist.txt"), phase="train")


def test_empty_list_file(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("")
    with pytest.raises(DataError, match="is empty"):
        Net(_net(lst), phase="train")


def test_missing_image_names_the_line(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("a0.png 0\nnot_there.png 1\n")
    net = Net(_net(lst, root=f"{fx.IMAGES}/"), phase="train")
    with pytest.raises(DataError) as e:
        net.forward()
    close(net)
    assert f"{lst}:2)" in str(e.value) and "could not load image" in str(e.value)
    assert "not_there.png' (no such file)" in str(e.value)


def test_missing_image_hint_for_root_folder_without_separator(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("a0.png 0\n")
    with pytest.raises(DataError) as e:
        Net(_net(lst, root=str(fx.IMAGES)), phase="train")
    msg = str(e.value)
    assert f"{lst}:1)" in msg and "without a separator" in msg


def test_new_height_needs_new_width(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("a0.png 0\n")
    with pytest.raises(CaffeCompatError, match="new_height and new_width must be set together"):
        Net(_net(lst, "new_height: 5", root=f"{fx.IMAGES}/"), phase="train")


def test_rand_skip_beyond_the_list(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("a0.png 0\n")
    with pytest.raises(DataError, match="not enough points to skip"):
        Net(_net(lst, "rand_skip: 1000", root=f"{fx.IMAGES}/"), phase="train", seed=1)


def test_shuffle_is_caffes_order():
    # 7 lines shuffled by Caffe: the labels of the first batches give the order
    want = np.concatenate([lab for _, lab in fx.batches("i1_shuffle_resize_crop")])
    assert sorted(want[:7].tolist()) == list(range(7))       # one pass over all images
    assert want[:7].tolist() != list(range(7))               # and not the file order
