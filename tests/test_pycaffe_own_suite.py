"""benchmarks/pycaffe_own_suite.py on a tree laid out as BVLC Caffe's (a suite of one test file
written here, not Caffe's): the suite imports this package's ``caffe``, in the mode asked for,
calls the unittest aliases Python 3.12 removed as Caffe's suite does, and a tree without the
suite is named in the error. pycaffe's own suite itself is run by hand
and by benchmarks/gpu_check.sh (docs/from-pycaffe.md, "pycaffe's own tests")."""
import pytest

from benchmarks import pycaffe_own_suite

SUITE = '''
import os
import tempfile
import unittest

import numpy as np

import caffe
from caffe import _mode

NET = """input: "data" input_shape {{ dim: 2 dim: 3 }}
layer {{ name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param {{ num_output: 2 weight_filler {{ type: "constant" value: 1 }} }} }}
"""


class TestOldAliases(unittest.TestCase):
    def test_the_aliases_python_3_12_removed(self):
        self.assertEquals(1, 1)
        with self.assertRaisesRegexp(ValueError, "no"):
            raise ValueError("no")


def test_the_mode_and_a_forward():
    assert caffe.__file__.startswith({root!r})
    assert _mode.gpu_mode() == {gpu!r}
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(NET)
    net = caffe.Net(f.name, caffe.TEST)
    os.remove(f.name)
    net.blobs["data"].data[...] = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = net.forward()["ip"]
    np.testing.assert_array_equal(out, [[3, 3], [12, 12]])
'''


def _tree(tmp_path, gpu):
    (tmp_path / "python" / "caffe" / "test").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    (tmp_path / "examples").mkdir()
    (tmp_path / "python" / "caffe" / "test" / "test_mode.py").write_text(
        SUITE.format(root=pycaffe_own_suite.ROOT, gpu=gpu))
    return str(tmp_path)


@pytest.mark.parametrize("mode, extra, gpu", [("cpu", [], False), ("standin", [], True),
                                             ("standin", ["--hold-gpu"], True)])
def test_the_suite_runs_on_this_package_in_the_mode_asked(tmp_path, mode, extra, gpu, capfd):
    tree = _tree(tmp_path, gpu)
    assert pycaffe_own_suite.main(["--caffe-src", tree, "--mode", mode, *extra]) == 0
    out = capfd.readouterr().out
    assert "2 passed" in out and f"mode {mode}" in out
    if gpu:
        assert "copied up" in out


def test_a_tree_without_the_suite_is_named(tmp_path):
    with pytest.raises(SystemExit, match="is not a BVLC Caffe source tree .*python/caffe/test"):
        pycaffe_own_suite.main(["--caffe-src", str(tmp_path)])
