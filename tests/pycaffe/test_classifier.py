"""caffe.Classifier and caffe.Detector, classification scripts in pycaffe's style, against
OpenCV 4 dnn and real pycaffe (fixtures/classifier, written by make_classifier_fixture.py).

``tiny`` (a caffemodel real Caffe wrote from its fillers, committed) always runs; the public
CIFAR-10 caffemodel runs when it is in the model cache (see classifier_nets.py)."""
import pathlib
import sys

import numpy as np
import pytest

import caffe

HERE = pathlib.Path(__file__).parent / "fixtures" / "classifier"
sys.path.insert(0, str(HERE))
import classifier_nets as nets  # noqa: E402

# float32 nets, summed in other orders than OpenCV's and Caffe's BLAS: measured <= 1e-7 on
# probabilities; the acceptance tolerance is 1e-5
TOL = 1e-5


def _model(name, tmp_path):
    if name == "tiny":
        return str(HERE / "tiny.prototxt"), str(HERE / "tiny.caffemodel")
    weights = nets.cached_model()
    if weights is None:
        pytest.skip(f"public caffemodel not committed: the reference outputs are of "
                    f"cifar10_full_iter_70000.caffemodel, the file Caffe's "
                    f"examples/cifar10/train_full.sh writes, in one published copy (359,286 "
                    f"bytes, sha256 {nets.CIFAR10_SHA256}; one trained anew has other weights "
                    f"and is refused); copy it into {nets.model_cache()} or point "
                    f"RLQ_MODEL_CACHE at its folder. The 'tiny' cases run the same checks")
    deploy = tmp_path / "cifar10_full.prototxt"
    deploy.write_text(nets.CIFAR10_FULL)
    return str(deploy), weights


@pytest.mark.parametrize("name", ["tiny", "cifar10_full"])
@pytest.mark.parametrize("mode", ["center", "oversample"])
def test_classifier_matches_opencv_and_pycaffe(tmp_path, name, mode):
    deploy, weights = _model(name, tmp_path)
    images = list(np.load(HERE / "images.npz")["images"])
    clf = caffe.Classifier(deploy, weights, **nets.classifier_args(name))
    got = clf.predict(images, oversample=(mode == "oversample"))
    opencv = np.load(HERE / f"opencv_{name}.npz")[mode]
    pycaffe = np.load(HERE / f"pycaffe_{name}.npz")[mode]
    assert got.shape == opencv.shape == pycaffe.shape
    np.testing.assert_allclose(got, opencv, rtol=0, atol=TOL)
    np.testing.assert_allclose(got, pycaffe, rtol=0, atol=TOL)
    assert (got.argmax(1) == pycaffe.argmax(1)).all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the scripts' older Net(file, weights, phase)
def test_classification_script_style(tmp_path):
    # the classic script: Transformer by hand, reshape the input blob, forward, top-k
    deploy, weights = _model("tiny", tmp_path)
    net = caffe.Net(deploy, weights, caffe.TEST)
    transformer = caffe.io.Transformer({"data": net.blobs["data"].data.shape})
    transformer.set_transpose("data", (2, 0, 1))
    transformer.set_mean("data", np.array([104.0, 117.0, 123.0]))
    transformer.set_raw_scale("data", 255)
    transformer.set_channel_swap("data", (2, 1, 0))
    images = np.load(HERE / "images.npz")["images"]
    net.blobs["data"].reshape(3, 3, 24, 24)
    for i, image in enumerate(images):
        net.blobs["data"].data[i] = transformer.preprocess("data", image[8:32, 10:34])
    probs = net.forward()["prob"]
    assert probs.shape == (3, 5)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-6)
    top = probs[0].argsort()[::-1][:3]
    assert len(set(top)) == 3
    all_probs = net.forward_all(data=np.stack([transformer.preprocess("data", im[8:32, 10:34])
                                               for im in images] * 2))["prob"]
    np.testing.assert_allclose(all_probs[:3], probs, rtol=1e-6, atol=1e-7)


def test_detector_windows(tmp_path):
    import skimage.io
    deploy, weights = _model("tiny", tmp_path)
    image = (np.load(HERE / "images.npz")["images"][0] * 255).astype(np.uint8)
    path = str(tmp_path / "im.png")
    skimage.io.imsave(path, image, check_contrast=False)
    args = dict(mean=np.array([104.0, 117.0, 123.0]), raw_scale=255.0, channel_swap=(2, 1, 0))
    det = caffe.Detector(deploy, weights, **args)
    windows = np.array([[0, 0, 24, 24], [5, 6, 35, 40], [10, 2, 40, 30]])
    out = det.detect_windows([(path, windows)])
    assert [d["filename"] for d in out] == [path] * 3
    loaded = caffe.io.load_image(path)
    for d, w in zip(out, windows):
        x = det.transformer.preprocess("data", loaded[w[0]:w[2], w[1]:w[3]])
        ref = caffe.Net(deploy, caffe.TEST, weights=weights)
        ref.blobs["data"].reshape(1, 3, 24, 24)
        ref.blobs["data"].data[0] = x
        np.testing.assert_allclose(d["prediction"], ref.forward()["prob"][0], rtol=1e-5,
                                   atol=1e-7)
    padded = caffe.Detector(deploy, weights, context_pad=4, **args)
    assert len(padded.detect_windows([(path, windows)])) == 3
    with pytest.raises(NotImplementedError, match="detect_selective_search"):
        det.detect_selective_search([path])
