"""Caffe's random streams (caffe_compat.data.caffe_random) against boost's outputs.

The expected values were printed by tests/fixtures/caffe_data/boost_reference.cpp, compiled
against Boost 1.74 (boost::mt19937, boost::uniform_int and the Fisher-Yates loop of Caffe's
util/rng.hpp). Integers: exact equality.
"""
import pytest

from caffe_compat.data.caffe_random import (MT19937, CaffeRandom, data_layer_setup_draws,
                                            shuffle)

BOOST_SHUFFLE_23 = {
    0: ([7, 3, 19, 10, 5, 1, 14, 0, 22, 2, 18, 4, 17, 8, 6, 21, 9, 20, 11, 16, 15, 13, 12],
        2271586391),
    1701: ([17, 5, 19, 1, 3, 7, 14, 4, 0, 15, 20, 21, 10, 6, 13, 12, 8, 18, 9, 16, 22, 11, 2],
           732221218),
    4294967295: ([18, 7, 16, 4, 21, 8, 17, 5, 1, 10, 20, 6, 15, 3, 0, 12, 13, 9, 14, 11, 19,
                  22, 2], 1779174926),
}
BOOST_UNIFORM_0_3E9_SEED_42 = [1608637542, 787846414, 2571218620, 2563451924, 670094950,
                               1914837113, 669991378, 429389014]


def test_mt19937_reference_values():
    g = MT19937(5489)
    out = g.draw(10000)
    assert out[0] == 3499211612                 # the reference mt19937's first output
    assert out[-1] == 4123659995                # C++11 [rand.predef]: 10000th of std::mt19937
    assert MT19937(0).next() == 2357136044


def test_next_and_draw_share_one_stream():
    a, b = MT19937(99), MT19937(99)
    assert [a.next() for _ in range(700)] == b.draw(700).tolist()


@pytest.mark.parametrize("seed", sorted(BOOST_SHUFFLE_23))
def test_shuffle_equals_caffe_with_boost(seed):
    g = MT19937(seed)
    items = list(range(23))
    shuffle(items, g)
    order, following = BOOST_SHUFFLE_23[seed]
    assert items == order
    assert g.next() == following                # the same number of draws was consumed


def test_uniform_int_large_range_rejection():
    g = MT19937(42)
    assert [g.uniform_int(0, 3_000_000_000) for _ in range(8)] == BOOST_UNIFORM_0_3E9_SEED_42


def test_uniform_int_power_of_two_range_uses_bucket_2_32_over_n():
    # range 0..3: bucket = 2**32 / 4 exactly, so every draw is accepted (v >> 30)
    g, ref = MT19937(7), MT19937(7)
    assert [g.uniform_int(0, 3) for _ in range(50)] == [int(v) >> 30 for v in ref.draw(50)]


def test_state_round_trip():
    g = MT19937(3)
    g.draw(1000)
    state = g.get_state()
    want = g.draw(5).tolist()
    h = MT19937(0)
    h.set_state(state)
    assert h.draw(5).tolist() == want


def test_setup_draws_follow_caffe_order():
    # transformer seed (discarded), own draws, transformer seed (kept), thread seed
    ref = MT19937(11).draw(4).tolist()
    rng = CaffeRandom(11)
    tf, (own,) = data_layer_setup_draws(rng, transformer_needs_rand=True,
                                        own_draws=[lambda r: r.rand()])
    assert own == ref[1]
    assert tf.seed == ref[2]
    assert rng.next() == MT19937(11).draw(5)[4]
    # without a transformer generator: the own draws, then the thread seed only
    rng = CaffeRandom(11)
    tf, (own,) = data_layer_setup_draws(rng, transformer_needs_rand=False,
                                        own_draws=[lambda r: r.rand()])
    assert tf is None and own == ref[0] and rng.next() == ref[2]


def test_unseeded_streams_differ():
    assert CaffeRandom(None).draw(4).tolist() != CaffeRandom(None).draw(4).tolist()
