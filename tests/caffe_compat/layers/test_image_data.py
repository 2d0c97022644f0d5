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


def test_formats_caffes_opencv_did_not_read_are_not_read(tmp_path):
    """A GIF or AVIF (OpenCV 5 decodes them; Caffe 1.0's OpenCV 4.6 had no decoder): real
    Caffe's ImageData stops ("Could not load"), its convert_imageset skips the file
    ("Could not open or find file"); the same here. A truncated JPEG, which Caffe's OpenCV
    decoded (libjpeg's "Premature end of JPEG file") and OpenCV 5's imdecode refuses, is
    decoded: its rows before the cut are the whole file's."""
    import cv2
    from PIL import Image
    from caffe_compat.data import images
    from caffe_compat.tools.convert_imageset import convert_imageset
    pixels = (np.random.default_rng(3).random((24, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.gif")
    cv2.imwrite(str(tmp_path / "y.png"), pixels)
    assert cv2.imread(str(tmp_path / "x.gif")) is not None           # OpenCV 5 reads it
    assert images.read_image(str(tmp_path / "x.gif")) is None
    assert images.decode_image((tmp_path / "x.gif").read_bytes(), images.IMREAD_COLOR) is None
    assert not images.caffes_format(b"\0\0\0\x1cftypavif\0\0")
    (tmp_path / "list.txt").write_text("x.gif 0\ny.png 1\n")
    convert_imageset(f"{tmp_path}/", str(tmp_path / "list.txt"), str(tmp_path / "db"))
    import lmdb
    with lmdb.open(str(tmp_path / "db"), readonly=True, lock=False) as env, env.begin() as t:
        assert [k for k, _ in t.cursor()] == [b"00000001_y.png"]
    whole = cv2.imencode(".jpg", np.repeat(pixels, 4, axis=0))[1].tobytes()
    cut = images.decode_image(whole[:len(whole) * 2 // 3], images.IMREAD_COLOR)
    full = images.decode_image(whole, images.IMREAD_COLOR)
    assert cut.shape == full.shape and np.array_equal(cut[:16], full[:16])


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
