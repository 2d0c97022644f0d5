"""``debug_info: true``: the per-blob lines of Caffe's Net (net.cpp's ForwardDebugInfo,
BackwardDebugInfo and Backward's norms) at the display iterations and in every test pass,
against what real Caffe 1.0's ``caffe train`` printed for the same solver
(tests/fixtures/debug_info_log/make_fixture.sh)."""
import re
import warnings

import numpy as np
import pytest

from caffe_compat.cli.main import main
from caffe_compat.diagnostics.engine_notice import EngineFallbackWarning
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "debug_info_log"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
KEPT = re.compile(r"^([IWE])\d{4} [\d:.]+ +\d+ ((?:net|solver|sgd_solver)\.cpp:\d+\] .*)$")


def caffe_lines():
    return FIXTURE.joinpath("caffe_train_debug.txt").read_text().splitlines()


def kept_lines(stderr):
    """Our log as the fixture keeps Caffe's: net/solver lines from the first test pass on."""
    lines = [f"{m.group(1)} {m.group(2)}" for m in map(KEPT.match, stderr.splitlines()) if m]
    start = next(i for i, line in enumerate(lines) if "Iteration 0, Testing net" in line)
    return lines[start:]


def assert_same_lines(ours, caffe):
    """The same lines in the same order; the numbers within 1e-5 relative: Caffe sums each
    blob's absolute values in float32 (cblas_sasum's order), ours in float64, and both print
    6 significant digits, so the last digit may differ. A display line's rate is a time."""
    assert len(ours) == len(caffe), "\n".join(ours)
    for a, b in zip(ours, caffe):
        if "iter/s" in b:
            a, b = a.split("loss = ")[1], b.split("loss = ")[1]
        assert NUMBER.sub("#", a) == NUMBER.sub("#", b), (a, b)
        np.testing.assert_allclose([float(x) for x in NUMBER.findall(a)],
                                   [float(x) for x in NUMBER.findall(b)], rtol=1e-5,
                                   atol=1e-9, err_msg=f"{a}\n{b}")


def test_train_prints_caffes_debug_info_lines(monkeypatch, capsys):
    monkeypatch.chdir(FIXTURE)
    assert main(["train", "-solver", "solver.prototxt"]) == 0
    ours = kept_lines(capsys.readouterr().err)
    caffe = caffe_lines()
    assert_same_lines(ours, caffe)
    # the display iterations only (0 and 2 of 4), every test pass
    assert sum("All net params" in line for line in caffe) == 2
    assert sum("[Forward] Layer loss" in line for line in caffe) == 2 + 3


def test_pycaffe_solver_prints_the_same_lines(monkeypatch, capsys):
    """pycaffe's ``solve()`` is Caffe's Solver::Solve: the same lines, on stderr (glog's)."""
    import caffe
    monkeypatch.chdir(FIXTURE)
    from caffe_compat.data.caffe_random import LIBC_RAND
    LIBC_RAND.seed(1)              # as in a fresh process (the shuffle's stream; no shuffle)
    caffe.set_mode_cpu()
    solver = caffe.SGDSolver("solver.prototxt")
    solver.solve()
    assert_same_lines(kept_lines(capsys.readouterr().err), caffe_lines())


@pytest.mark.parametrize("flag", [True, False])
def test_a_nets_own_debug_info_prints_every_forward(tmp_path, capsys, flag):
    """A NetParameter's ``debug_info: true`` (Net::Init reads it): every forward of a pycaffe
    net prints its layers' lines on stderr, as real pycaffe's glog does; without it, none."""
    import caffe
    text = (f"debug_info: {str(flag).lower()}\n"
            "input: 'x' input_shape { dim: 2 dim: 3 }\n"
            "layer { name: 'ip' type: 'InnerProduct' bottom: 'x' top: 'y'\n"
            "  inner_product_param { num_output: 2 bias_filler { type: 'constant' value: 1 } } }\n")
    path = tmp_path / "net.prototxt"
    path.write_text(text)
    with warnings.catch_warnings():     # (the torch engine runs a debug_info net)
        warnings.simplefilter("ignore", EngineFallbackWarning)
        net = caffe.Net(str(path), caffe.TEST)
    net.blobs["x"].data[...] = -2.0
    net.params["ip"][0].data[...] = 0.5
    capsys.readouterr()
    net.forward()
    messages = [line.split("] ", 1)[1] for line in capsys.readouterr().err.splitlines()
                if re.match(r"I\d{4} [\d:.]+ +\d+ net\.cpp:(593|605)\] ", line)]
    # as real pycaffe prints them: Caffe's upgrade makes the legacy input an Input layer
    expected = ["    [Forward] Layer input, top blob x data: 2",
                "    [Forward] Layer ip, top blob y data: 2",     # |3 * 0.5 * -2 + 1|
                "    [Forward] Layer ip, param blob 0 data: 0.5",
                "    [Forward] Layer ip, param blob 1 data: 1"]
    assert messages == (expected if flag else [])


def test_debug_iterations_train_as_the_others(monkeypatch):
    """The display iterations run layer by layer to print their lines; the weights after
    training are the same to the bit with debug_info on and off."""
    from caffe_compat.io import prototxt
    from caffe_compat.solvers import get_solver
    monkeypatch.chdir(FIXTURE)
    weights = []
    for flag in (True, False):
        param = prototxt.read_solver("solver.prototxt")
        param.debug_info = flag
        solver = get_solver(param)
        solver.solve()
        weights.append({k: v.detach().clone() for k, v in solver.net.state_dict().items()})
    assert weights[0].keys() == weights[1].keys() and len(weights[0]) >= 4
    for k in weights[0]:
        assert np.array_equal(weights[0][k].numpy(), weights[1][k].numpy()), k
