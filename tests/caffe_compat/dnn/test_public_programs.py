"""cv2.dnn client programs of this project (``public_programs/scripts/``), run after
``caffe_compat.dnn.install()``, compute what OpenCV 4.14's Caffe importer computes running the
same programs: top-k classification with BVLC GoogLeNet (``readNet``, backend and target set),
HED edge detection (a Python Crop layer registered with ``cv.dnn_registerLayer``), OpenPose body
keypoints from a video and from a single image, colorization (layer blobs set through
``getLayer(...).blobs``, ``forward`` of a named output), the res10 SSD face detector and FCN-8s
segmentation with a colour legend (Deconvolution, Crop with offsets, Eltwise), and a
MobileNet-SSD detector inside a small IoU tracker over three frames
(``getUnconnectedOutLayersNames``, ``NMSBoxes``). ``public_programs/README.md`` lists what each
exercises, the tolerances and the public files read from ``../shared``.

Each program runs in its own process (``public_programs/runner.py``) under the installed
OpenCV: under OpenCV 5 that is the migration the docs promise; under OpenCV 4,
``install(replace=True)`` puts ours in place of OpenCV's importer, and the same program is also
run on OpenCV's own importer, live, and compared. OpenCV 4's answers are committed fixtures
(``public_programs/make_fixtures.py``), so both runs of CI compare with them. A program whose
deploy file lives in ``../shared/public-nets`` skips, naming the file, where that is absent.
"""
import json
import os
import shutil

import numpy as np
import pytest

from tests.caffe_compat.dnn.public_programs import make_fixtures as fx
from tests.caffe_compat.dnn.public_programs.programs import PROGRAMS, missing_public, prepare
from tests.conftest import public_input

cv2 = pytest.importorskip("cv2")
pytest.importorskip("skimage")

META = json.load(open(os.path.join(fx.FIXTURES, "programs.json")))
# Both sides are float32 implementations of the same layers with different summation orders
# (OpenCV's kernels and fusions against torch's); the acceptance bound is 1e-4 of a value's
# largest magnitude (measured: at most 1.5e-5, colorization's ab output; the table in
# public_programs/README.md).
TOL = 1e-4
HAS_OPENCV_CAFFE = hasattr(cv2.dnn, "readNetFromCaffe")


def _params():
    return [pytest.param(name, id=name, marks=[pytest.mark.slow] if program.slow else [])
            for name, program in sorted(PROGRAMS.items())]


def require_public(name):
    """Skip (fail under RLQ_REQUIRE_FIXTURES=1) naming the first public file the program
    reads that ../shared lacks."""
    for relative in PROGRAMS[name].public_files():
        public_input("public-nets", *relative.split("/"))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The programs' inputs, written once per module run (the weights are the fixtures': the
    sha256 is checked) and removed afterwards (up to 90 MB of weights per program)."""
    made = {}

    def get(name):
        if name not in made:
            folder = str(tmp_path_factory.mktemp(name))
            digest = prepare(PROGRAMS[name], folder)
            assert digest == META[name]["weights_sha256"], \
                f"{name}: the seeded weights differ from those OpenCV 4 read"
            made[name] = folder
        return made[name]
    yield get
    for folder in made.values():
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def ours(request, folders):
    """Our results: on first use, every program this session selected runs after install(),
    all in one process (``runner.py``: a forked child per program, torch imported once)."""
    done = {}

    def get(name):
        if name not in done:
            selected = sorted({item.callspec.params["name"] for item in request.session.items
                               if item.module is request.module and hasattr(item, "callspec")}
                              - set(done) | {name})
            selected = [n for n in selected if not missing_public(PROGRAMS[n])]
            jobs = [(n, folders(n), os.path.join(folders(n), "ours.npz")) for n in selected]
            proc = fx.run_programs(jobs, ours=True)
            for n, _, out in jobs:
                done[n] = (out, proc.stderr)
        out, stderr = done[name]
        assert os.path.exists(out), f"{name} failed (ours):\n{stderr[-6000:]}"
        return dict(np.load(out))
    return get


def _opencv(name, folder):
    out = os.path.join(folder, "opencv.npz")
    proc = fx.run_program(name, folder, out, ours=False)
    assert proc.returncode == 0, f"{name} failed (OpenCV {cv2.__version__}):\n{proc.stderr[-4000:]}"
    return dict(np.load(out))


def tied_pixels(scores):
    """Pixels of a 1 x C x H x W score map whose two best classes lie within 2 TOL of its
    largest magnitude of each other."""
    s = np.asarray(scores, np.float64)[0]
    top = np.sort(s, axis=0)
    return top[-1] - top[-2] <= 2 * TOL * np.abs(s).max()


def _compare_detections(name, a, b):
    """One image's SSD rows: each of ours is one of OpenCV's within the bound; detections whose
    scores are equal in float32 come in either order (both sort by score alone, OpenCV with
    std::sort); rows past the last detection are zeros in both."""
    n = int(np.any(b[:, 1:] != 0, axis=1).sum())
    assert not a[n:, 1:].any() and not b[n:, 1:].any()
    a, b = a[:n], b[:n]
    pair = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2).argmin(axis=1)
    assert len(set(pair.tolist())) == n, "detections do not pair one to one"
    assert np.abs(a[:, 2] - b[:, 2]).max() <= TOL, "not in OpenCV's order of scores"
    err = np.abs(a - b[pair]).max() / max(np.abs(b).max(), 1e-30)
    assert err <= TOL, f"{name}: detections differ by {err:.3g} of their scale"


def _compare(name, got, want):
    program = PROGRAMS[name]
    assert str(got["stdout"]) == str(want["stdout"])
    assert list(got["windows"]) == list(want["windows"])
    if program.detections:
        var, threshold = program.detections
        a = np.asarray(got[f"var/{var}"], np.float64).reshape(-1, 7)
        b = np.asarray(want[f"var/{var}"], np.float64).reshape(-1, 7)
        assert a.shape == b.shape, (var, a.shape, b.shape)
        # rows one frame after another (column 0: the frame, or the image of a batch of one)
        np.testing.assert_array_equal(a[:, 0], b[:, 0])
        # the same detections: the same rows pass the program's threshold, with the same class
        np.testing.assert_array_equal(a[:, 2] > threshold, b[:, 2] > threshold)
        np.testing.assert_array_equal(a[:, 1], b[:, 1])
        for frame in np.unique(b[:, 0]):
            _compare_detections(name, a[a[:, 0] == frame], b[b[:, 0] == frame])
    for var, scores in program.class_maps:
        # a pixel whose two best classes OpenCV scores within twice the bound of each other
        # may take either when both sides are within the bound: a tie at this precision
        # (they lie on class borders; every other pixel has the same class)
        untied = ~tied_pixels(want[f"var/{scores}"])
        got_map, want_map = got[f"var/{var}"], want[f"var/{var}"]
        assert got_map.shape == want_map.shape
        np.testing.assert_array_equal(got_map[untied], want_map[untied], err_msg=var)
        assert untied.mean() > 0.99, f"{name}: {var}: {(~untied).sum()} pixels tied"
    for var in program.exact:
        np.testing.assert_array_equal(got[f"var/{var}"], want[f"var/{var}"], err_msg=var)
    for var in program.arrays:
        a = np.asarray(got[f"var/{var}"], np.float64)
        b = np.asarray(want[f"var/{var}"], np.float64)
        assert a.shape == b.shape, (var, a.shape, b.shape)
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        assert err <= TOL, f"{name}: {var} differs by {err:.3g} of its scale"


@pytest.mark.parametrize("name", _params())
def test_program_after_install_matches_opencv4(name, ours):
    require_public(name)
    want = dict(np.load(os.path.join(fx.FIXTURES, f"{name}.npz")))
    assert str(want["opencv"]).startswith("4.")
    _compare(name, ours(name), want)


@pytest.mark.skipif(not HAS_OPENCV_CAFFE, reason="OpenCV 4's own Caffe importer is not "
                    f"installed (OpenCV {cv2.__version__}); the fixtures stand for it")
@pytest.mark.parametrize("name", _params())
def test_program_against_live_opencv4(name, folders, ours):
    require_public(name)
    _compare(name, ours(name), _opencv(name, folders(name)))


def test_reference_outputs_are_not_degenerate():
    """The seeded weights give real answers: a class well ahead of the next, keypoints that
    are not ties, edge and colour maps that vary, tracks that last."""
    for name, meta in META.items():
        ref = dict(np.load(os.path.join(fx.FIXTURES, f"{name}.npz")))
        if "class_probability_gap" in meta:
            assert meta["class_probability_gap"] > 0.05
            # the top-k order, compared exactly, far from a tie at the bound
            assert meta["smallest_gap_among_the_best"] > 10 * TOL * ref["var/out"].max()
        if "tracks" in PROGRAMS[name].exact:
            # the tracker links detections: some tracks run through every frame
            frames = len(np.unique(ref["var/tracks"][:, 0]))
            _, seen = np.unique(ref["var/tracks"][:, 1], return_counts=True)
            assert frames > 1 and (seen == frames).sum() >= 5
        if "smallest_keypoint_peak_gap" in meta:
            assert meta["smallest_keypoint_peak_gap"] > 1e-3
            assert (ref["var/points"] >= 0).all(axis=1).sum() >= len(ref["var/points"]) // 2
        for var, _ in PROGRAMS[name].class_maps:
            # most classes present, none taking most of the image
            counts = np.bincount(ref[f"var/{var}"].ravel())
            assert (counts > 0).sum() >= 10 and counts.max() < 0.5 * counts.sum()
        for var in PROGRAMS[name].arrays:
            value = ref[f"var/{var}"]
            assert np.isfinite(value).all() and (value.size == 1 or np.std(value) > 1e-3)
