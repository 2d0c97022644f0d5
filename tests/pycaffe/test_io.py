"""caffe.io against real pycaffe's results (fixtures/io.npz, written by
fixtures/make_pycaffe_fixtures.py) and pycaffe's own io checks."""
import pathlib

import numpy as np
import pytest

import caffe
import caffe.io

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def ref():
    return np.load(FIXTURES / "io.npz")


def _transformer():
    t = caffe.io.Transformer({"data": (2, 3, 8, 10)})
    t.set_transpose("data", (2, 0, 1))
    t.set_channel_swap("data", (2, 1, 0))
    t.set_raw_scale("data", 255.0)
    t.set_mean("data", np.array([104.0, 117.0, 123.0]))
    t.set_input_scale("data", 0.5)
    return t


# The same float32 operations in the same order as pycaffe (and scikit-image's resize):
# measured differences are 0; 1e-6 leaves room for another scikit-image release.
TOL = 1e-6


def test_transformer_matches_pycaffe(ref):
    t = _transformer()
    pre = t.preprocess("data", ref["image"])
    assert pre.dtype == np.float32 and pre.shape == (3, 8, 10)
    np.testing.assert_allclose(pre, ref["pre_channel_mean"], atol=TOL * 255)
    np.testing.assert_allclose(t.deprocess("data", pre), ref["de_channel_mean"], atol=TOL)
    t.set_mean("data", ref["mean_image"])            # an image mean, resized to 8 x 10
    np.testing.assert_allclose(t.mean["data"], ref["mean_resized"], atol=TOL * 150)
    pre = t.preprocess("data", ref["image"])
    np.testing.assert_allclose(pre, ref["pre_image_mean"], atol=TOL * 255)
    np.testing.assert_allclose(t.deprocess("data", pre), ref["de_image_mean"], atol=TOL)


def test_transformer_checks_its_arguments():
    t = caffe.io.Transformer({"data": (1, 3, 4, 4)})
    with pytest.raises(ValueError, match="not one of the net inputs"):
        t.preprocess("other", np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="3 axes"):
        t.set_transpose("data", (1, 0))
    with pytest.raises(ValueError, match="3 channels"):
        t.set_channel_swap("data", (1, 0))
    with pytest.raises(ValueError, match="channels"):
        t.set_mean("data", np.zeros(2))
    with pytest.raises(ValueError, match="1-, 2- or 3-axis"):
        t.set_mean("data", np.zeros((1, 1, 1, 1)))


def test_transformer_without_setters_only_resizes():
    t = caffe.io.Transformer({"data": (1, 3, 5, 5)})
    image = np.random.RandomState(0).rand(5, 5, 3).astype(np.float64)
    out = t.preprocess("data", image)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, image.astype(np.float32))


def test_resize_image_matches_pycaffe(ref):
    np.testing.assert_allclose(caffe.io.resize_image(ref["image"] * 200, (20, 9)),
                               ref["resize_rgb"], atol=TOL * 200)
    np.testing.assert_allclose(caffe.io.resize_image(ref["grey"], (5, 11)), ref["resize_grey"],
                               atol=TOL * 4)
    np.testing.assert_allclose(caffe.io.resize_image(ref["four"], (9, 3)), ref["resize_four"],
                               atol=TOL)
    np.testing.assert_allclose(caffe.io.resize_image(ref["image"], (7, 7), interp_order=3),
                               ref["resize_rgb_cubic"], atol=TOL)
    constant = caffe.io.resize_image(np.full((4, 4, 3), 0.25, np.float32), (6, 2))
    np.testing.assert_array_equal(constant, ref["resize_constant"])
    assert constant.dtype == np.float32


def test_oversample_matches_pycaffe(ref):
    crops = caffe.io.oversample(list(ref["crops_in"]), (7, 8))
    assert crops.shape == (20, 7, 8, 3)
    np.testing.assert_array_equal(crops, ref["oversample"])
    np.testing.assert_array_equal(crops[5], crops[0][:, ::-1])


@pytest.mark.parametrize("name", ["rgba", "grey"])
@pytest.mark.parametrize("color", [True, False])
def test_load_image_matches_pycaffe(ref, name, color):
    image = caffe.io.load_image(str(FIXTURES / f"{name}.png"), color=color)
    expected = ref[f"load_{name}_{'color' if color else 'gray'}"]
    assert image.dtype == np.float32 and image.shape == expected.shape
    np.testing.assert_allclose(image, expected, atol=TOL)


MODES = FIXTURES / "image_modes"


@pytest.mark.parametrize("name", ["cmyk.jpg", "grey_alpha.png", "palette.gif",
                                  "palette_alpha.png"])
@pytest.mark.parametrize("color", [True, False])
def test_load_image_converts_modes_as_pycaffe(name, color):
    """A CMYK JPEG (ImageNet holds some), grey with alpha, a GIF, a palette with a transparent
    colour: the pixels real pycaffe's reader gave (converted to RGB or RGBA first; as_gray
    blending alpha onto white), where today's readers hand over the raw channels or frames.
    The same decoder and float arithmetic: 0 difference measured; TOL as above."""
    expected = np.load(MODES / "modes.npz")[f"{name}/{color}"]
    image = caffe.io.load_image(str(MODES / name), color=color)
    assert image.dtype == np.float32 and image.shape == expected.shape
    np.testing.assert_allclose(image, expected, atol=TOL)


# ---- pycaffe's test_io: BlobProto and Datum conversions
def test_blobproto_legacy_shape():
    blob = caffe.proto.caffe_pb2.BlobProto()
    blob.data.extend(list(np.zeros(100).flat))
    blob.num, blob.channels, blob.height, blob.width = (1, 1, 10, 10)
    assert caffe.io.blobproto_to_array(blob).shape == (1, 1, 10, 10)


def test_blobproto_shape_field():
    blob = caffe.proto.caffe_pb2.BlobProto()
    blob.data.extend(list(np.zeros(100).flat))
    blob.shape.dim.extend([10, 10])
    assert caffe.io.blobproto_to_array(blob).shape == (10, 10)


def test_blobproto_without_shape_is_an_error():
    blob = caffe.proto.caffe_pb2.BlobProto()
    blob.data.extend(list(np.zeros(100).flat))
    with pytest.raises(ValueError):
        caffe.io.blobproto_to_array(blob)


def test_blobproto_scalar():
    blob = caffe.proto.caffe_pb2.BlobProto()
    blob.data.extend([123.0])
    assert caffe.io.blobproto_to_array(blob) == 123


def test_blobproto_round_trips_with_diff():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    blob = caffe.io.array_to_blobproto(a, diff=-a)
    np.testing.assert_array_equal(caffe.io.blobproto_to_array(blob), a)
    np.testing.assert_array_equal(caffe.io.blobproto_to_array(blob, return_diff=True), -a)
    # float64, as pycaffe's np.array of the repeated field (a mean file saved with np.save
    # keeps pycaffe's dtype)
    assert caffe.io.blobproto_to_array(blob).dtype == np.float64
    assert caffe.io.blobproto_to_array(blob, return_diff=True).dtype == np.float64
    arrays = [a, np.ones((5,), np.float32)]
    back = caffe.io.blobprotovector_str_to_arraylist(
        caffe.io.arraylist_to_blobprotovector_str(arrays))
    for x, y in zip(arrays, back):
        np.testing.assert_array_equal(x, y)


def test_datum_label_only_when_given():
    with_label = caffe.io.array_to_datum(np.ones((10, 10, 3)), label=1)
    without = caffe.io.array_to_datum(np.ones((10, 10, 3)))
    assert len(with_label.SerializeToString()) > len(without.SerializeToString())


def test_datum_round_trips():
    u8 = (np.arange(60) % 256).astype(np.uint8).reshape(3, 4, 5)
    d = caffe.io.array_to_datum(u8, label=7)
    assert d.data and not len(d.float_data) and d.label == 7
    np.testing.assert_array_equal(caffe.io.datum_to_array(d), u8)
    f = np.linspace(0, 1, 24).reshape(2, 3, 4)
    d = caffe.io.array_to_datum(f)
    assert not d.data and len(d.float_data) == 24
    np.testing.assert_allclose(caffe.io.datum_to_array(d), f)
    with pytest.raises(ValueError, match="3-axis"):
        caffe.io.array_to_datum(np.zeros((2, 2)))


def test_the_names_of_pycaffes_own_imports():
    # pycaffe's caffe.io imports skimage.io, skimage.transform.resize and scipy's zoom at its
    # top, and programs call them through it
    import scipy.ndimage
    import skimage.transform
    assert caffe.io.resize is skimage.transform.resize
    assert caffe.io.zoom is scipy.ndimage.zoom
    assert caffe.io.skimage.io.imread is not None
    with pytest.raises(AttributeError):
        caffe.io.no_such_name
