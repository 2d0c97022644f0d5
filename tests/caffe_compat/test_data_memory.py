"""Streaming: the Data layer's memory is bounded by its prefetch queue, not by the database.

The slow test writes an LMDB of more than 1 GB (3 x 256 x 256 Datums) and reads it through a
Data layer, sampling the process RSS after every batch; the fast tests check the bounded
queue and the periodic unmapping of the LMDB reader on small data.
"""
import ctypes
import gc
import os
import threading
import time

import numpy as np
import pytest

from caffe_compat.data import db as db_io
from caffe_compat.data.prefetch import Prefetcher
from caffe_compat.data.images import raw_datum


def test_prefetch_queue_is_bounded():
    made = []

    def batches():
        while True:
            made.append(1)
            yield len(made)

    p = Prefetcher(batches, depth=3)
    assert p.next() == 1
    time.sleep(0.5)
    # at most: the one handed out, 3 queued, 1 waiting to be queued
    assert len(made) <= 5
    p.close()


def test_prefetch_error_reaches_the_consumer():
    def batches():
        yield 1
        raise ValueError("bad record")

    p = Prefetcher(batches, depth=2)
    assert p.next() == 1
    with pytest.raises(ValueError, match="bad record"):
        p.next()
    p.close()


def test_close_stops_the_thread():
    p = Prefetcher(lambda: iter(range(10**9)), depth=2)
    p.next()
    before = threading.active_count()
    p.close()
    assert threading.active_count() <= before - 1


def _producer_waiting_for_a_slot():
    """A Prefetcher of depth 2 whose queue is full: its thread waits for a free slot."""
    p = Prefetcher(lambda: iter(range(10**9)), depth=2)
    p.next()
    deadline = time.monotonic() + 5
    while p.made_ahead < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    return p


def test_close_wakes_a_producer_waiting_for_a_free_slot():
    # every program with a Data layer closes it at its end: a producer that only polled its
    # stop between waits for a slot made each such exit up to 0.1 s later
    took = []
    for _ in range(5):
        p = _producer_waiting_for_a_slot()
        t = time.perf_counter()
        p.close()
        took.append(time.perf_counter() - t)
    # the poll's period is 0.1 s: the median close far below it (a shared machine's stalls
    # can hit one of five)
    assert sorted(took)[2] < 0.03, took


def test_lmdb_reader_remaps_and_keeps_key_order(tmp_path, monkeypatch):
    monkeypatch.setattr(db_io, "LMDB_REMAP_BYTES", 1000)     # remap every ~3 records
    with db_io.create_db(tmp_path / "db", "lmdb") as w:
        for i in range(20):
            w.put(f"{i:04d}".encode(), bytes([i]) * 400)
    reader = db_io.open_db(tmp_path / "db", "lmdb")
    it = reader.records()
    keys = [next(it)[0] for _ in range(45)]
    assert reader._shared.reopened >= 10          # 45 x 400 bytes, a remap every 1000
    reader.close()
    want = [f"{i:04d}".encode() for i in range(20)]
    assert keys == want + want + want[:5]


def _malloc_trim():
    """glibc's malloc_trim(0): freed heap pages back to the system (a no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.slow
def test_rss_stays_flat_reading_a_1gb_lmdb(tmp_path):
    from caffe_compat import Net
    shape = (3, 256, 256)
    n = int(1.05 * 2**30 / np.prod(shape)) + 1
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (16,) + shape, dtype=np.uint8)
    src = tmp_path / "big_lmdb"
    with db_io.create_db(src, "lmdb") as w:
        for i in range(n):
            w.put(f"{i:08d}".encode(), raw_datum(block[i % 16], 0).SerializeToString())
            if i % 1000 == 999:
                w.commit()
    assert os.path.getsize(src / "data.mdb") > 2**30
    batch = 64
    # what earlier tests of the same process left behind is collected and handed back first,
    # so that a release of it during the read does not read as this test's memory
    gc.collect()
    _malloc_trim()
    before = _rss_mb()
    net = Net(f'layer {{ name: "data" type: "Data" top: "data" top: "label"\n'
              f'  data_param {{ source: "{src}" backend: LMDB batch_size: {batch} }}\n'
              f'  transform_param {{ crop_size: 227 mirror: true }} }}\n', phase="train", seed=1)
    samples = []
    for _ in range(-(-n // batch)):
        net.forward()
        samples.append(_rss_mb())
    net.layers["data"].close()
    settled = samples[10]
    # a batch is 64 x 3 x 227 x 227 float32 = 40 MB; with 4 queued and the LMDB map unmapped
    # every 64 MB, the RSS may move by a few batches' worth after the queue has filled, never
    # by the database's size (1.05 GB); the whole read, queue and net included, stays well
    # under the database's size above the RSS before the net was built
    growth = max(samples[10:]) - settled
    peak = max(samples) - before
    assert growth < 300 and peak < 700, (before, settled, max(samples), samples[-1])
    print(f"RSS before the net {before:.0f} MB, after 10 batches {settled:.0f} MB, peak "
          f"{max(samples):.0f} MB, last {samples[-1]:.0f} MB, over {len(samples)} batches of "
          f"a {n}-record 1 GB LMDB")


def test_a_dropped_net_stops_its_thread_and_closes_its_database(tmp_path):
    import plyvel

    from caffe_compat import Net
    with db_io.create_db(tmp_path / "db", "leveldb") as w:
        for i in range(5):
            w.put(f"{i}".encode(), raw_datum(np.zeros((1, 4, 4), np.uint8), i)
                  .SerializeToString())
    text = (f'layer {{ name: "d" type: "Data" top: "data" data_param {{ source: '
            f'"{tmp_path / "db"}" batch_size: 2 }} }}')
    before = threading.active_count()
    net = Net(text, phase="train")
    net.forward()
    assert threading.active_count() == before + 1
    del net
    # at once, without the collector: the thread joined, the database closed
    assert threading.active_count() == before
    # LevelDB allows one opener per process (its LOCK): opening it here proves ours closed
    plyvel.DB(str(tmp_path / "db")).close()
    net = Net(text, phase="train")
    net.forward()
    net.layers["d"].close()
