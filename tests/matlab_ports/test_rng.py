"""MATLAB's default random stream: values published for MATLAB and the reference twister."""
import importlib
import json

import numpy as np
import pytest

from matlab_ports import MatlabRandomStream, PortError

rng_module = importlib.import_module("matlab_ports.rng")


class TwisterReference:
    """MT19937 (Matsumoto & Nishimura, mt19937ar.c) in plain Python: init_genrand, genrand_res53."""

    def __init__(self, seed):
        self.mt = [0] * 624
        self.mt[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):
            prev = self.mt[i - 1]
            self.mt[i] = (1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF
        self.index = 624

    def _twist(self):
        for i in range(624):
            y = (self.mt[i] & 0x80000000) | (self.mt[(i + 1) % 624] & 0x7FFFFFFF)
            v = self.mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            self.mt[i] = v
        self.index = 0

    def int32(self):
        if self.index >= 624:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y

    def res53(self):
        a = self.int32() >> 5
        b = self.int32() >> 6
        return (a * 67108864.0 + b) / 9007199254740992.0


@pytest.mark.parametrize("seed,init", [(0, 5489), (1, 1), (12345, 12345)])
def test_stream_equals_reference_twister(seed, init):
    ref = TwisterReference(init)
    expected = [ref.res53() for _ in range(1500)]
    got = MatlabRandomStream(seed).rand(1, 1500).ravel().tolist()
    # Tolerance: none; the same integers give the same doubles.
    assert got == expected


def test_matlab_published_values():
    s = MatlabRandomStream()
    first = s.rand(1, 8).ravel()
    # Tolerance: 5e-5, the published values are printed with 4 decimals.
    assert np.allclose(first, [0.8147, 0.9058, 0.1270, 0.9134, 0.6324, 0.0975, 0.2785, 0.5469],
                       rtol=0, atol=5e-5)
    assert MatlabRandomStream().randperm(8).tolist() == [6, 3, 7, 8, 5, 1, 2, 4]
    assert MatlabRandomStream().randperm(6).tolist() == [6, 3, 5, 1, 2, 4]
    # Tolerance: 5e-7; MATLAB prints rng(1); rand as 0.417022004702574.
    assert abs(MatlabRandomStream(1).rand()[0, 0] - 0.417022004702574) < 5e-7


def test_rand_fills_columns_first():
    flat = MatlabRandomStream().rand(1, 6).ravel()
    m = MatlabRandomStream().rand(2, 3)
    # Tolerance: none; the same draws, placed column by column.
    assert m.shape == (2, 3)
    assert m[:, 0].tolist() == flat[:2].tolist() and m[:, 2].tolist() == flat[4:].tolist()
    assert MatlabRandomStream().rand(3).shape == (3, 3)
    cube = MatlabRandomStream().rand(2, 2, 2)
    assert cube[1, 0, 1] == MatlabRandomStream().rand(1, 8)[0, 5]


def test_randperm_consumes_n_draws_and_is_the_sort_order():
    s = MatlabRandomStream()
    p = s.randperm(10)
    after = s.rand()[0, 0]
    t = MatlabRandomStream()
    draws = t.rand(1, 10).ravel()
    # Tolerance: none.
    assert p.tolist() == (np.argsort(draws, kind="stable") + 1).tolist()
    assert after == t.rand()[0, 0]
    assert sorted(p.tolist()) == list(range(1, 11))


def test_unidrnd_is_ceil_n_rand():
    s = MatlabRandomStream()
    got = s.unidrnd(10, 1, 5)
    draws = MatlabRandomStream().rand(1, 5)
    # Tolerance: none.
    assert np.array_equal(got, np.ceil(10 * draws))
    assert MatlabRandomStream().unidrnd(6).shape == (1, 1)
    with pytest.raises(PortError, match="unidrnd"):
        s.unidrnd(0)


def test_state_round_trip_through_json():
    s = MatlabRandomStream(7)
    s.rand(1, 100)
    state = json.loads(json.dumps(s.get_state()))
    ahead = s.rand(1, 5)
    t = MatlabRandomStream()
    t.set_state(state)
    # Tolerance: none; the restored twister continues identically.
    assert np.array_equal(t.rand(1, 5), ahead)
    assert t.seed_value == 7
    with pytest.raises(PortError, match="state"):
        t.set_state({"key": [1, 2], "pos": 3})


def test_global_stream_functions():
    rng_module.rng("default")
    a = rng_module.rand(1, 3)
    rng_module.rng(0)
    # Tolerance: none.
    assert np.array_equal(rng_module.rand(1, 3), a)
    rng_module.rng(0)
    assert rng_module.randperm(8).tolist() == [6, 3, 7, 8, 5, 1, 2, 4]
    rng_module.rng(0)
    with pytest.raises(PortError, match="seed"):
        rng_module.rng(-1)
    with pytest.raises(PortError, match="rng"):
        rng_module.rng("twister")
    with pytest.raises(PortError, match="rand"):
        rng_module.rand(2.5)
