"""The uniform fillers (uniform, xavier, positive_unitball) take real Caffe's draws from its
seeded stream: nets built one after another continue it, and a solver's test net continues
after its train net (tests/caffe_compat/fixtures/caffe_stream_fillers, written by real Caffe 1.0)."""
import pathlib
import sys

import numpy as np
import pytest
import torch

import caffe
from caffe_compat.layers import fillers
from caffe_compat.data.caffe_random import MT19937
from caffe_compat.proto import caffe_pb2

HERE = pathlib.Path(__file__).parents[1] / "fixtures" / "caffe_stream_fillers"
sys.path.insert(0, str(HERE))
import make_fixture  # noqa: E402


def test_nets_and_solver_draw_caffes_values(tmp_path):
    expected = np.load(HERE / "fillers.npz")
    got = make_fixture.run(caffe, str(tmp_path))
    assert sorted(got) == sorted(expected.files)
    for key in expected.files:
        if key.startswith("solver_test/"):
            continue                            # see the next test
        # the same 32-bit draws through the same float32 operations: bit for bit
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_test_net_shows_its_own_draws_before_the_first_test(tmp_path):
    expected = np.load(HERE / "fillers.npz")
    got = make_fixture.run(caffe, str(tmp_path))
    for key in expected.files:
        if key.startswith("solver_test/"):
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_uniform_redraws_at_the_upper_bound():
    # over [0, 1] a draw of 2**32 - 1 rounds to 2**32 in float32 and so gives the upper bound
    # nextafter(1): boost rejects it and draws again
    class Draws:
        def __init__(self, values):
            self.values = list(values)

        def draw(self, n):
            taken, self.values = self.values[:n], self.values[n:]
            return np.array(taken, np.uint32)
    draws = Draws([0, 2 ** 32 - 1, 2 ** 31, 7])
    got = fillers.caffe_rng_uniform(draws, 3, 0.0, 1.0)
    span = np.nextafter(np.float32(1), np.float32(2))
    np.testing.assert_array_equal(got, [0, np.float32(0.5) * span,
                                        np.float32(7) / np.float32(2 ** 32) * span])
    assert draws.values == [] and got.dtype == np.float32


def test_without_caffes_stream_the_torch_generator_draws():
    fp = caffe_pb2.FillerParameter(type="xavier")
    a = fillers.fill(torch.empty(4, 3), fp, torch.Generator().manual_seed(3))
    b = fillers.fill(torch.empty(4, 3), fp, torch.Generator().manual_seed(3))
    c = fillers.fill(torch.empty(4, 3), fp, None, caffe_rng=MT19937(3))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(c.abs().max()) <= float(np.sqrt(np.float32(3) / np.float32(3)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_positive_unitball_rows_sum_to_one(dtype):
    fp = caffe_pb2.FillerParameter(type="positive_unitball")
    t = fillers.fill(torch.empty(5, 7, dtype=dtype), fp, None, caffe_rng=MT19937(9))
    np.testing.assert_allclose(t.sum(1).numpy(), 1, rtol=1e-6)   # float32 row sums
    assert t.dtype == dtype and bool((t > 0).all())
