"""Feeding batches: the prefetch queue's order and bound (Caffe's ``prefetch`` batches made and
not yet taken, no more), its thread stopped and joined when the layer or net goes, and on a CUDA
device the batches in pinned memory and copied on a side stream
(caffe_compat.data.prefetch, caffe_compat.data.device_feed)."""
import gc
import threading
import time

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.data import device_feed
from caffe_compat.data.images import raw_datum
from caffe_compat.data.prefetch import Prefetcher
from tests.caffe_compat import data_fixtures as fx

CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="no CUDA device: pinned memory and side streams need one")


class Source:
    """Batches 0, 1, 2, ... noting how many were made."""

    def __init__(self):
        self.made = 0

    def batches(self):
        while True:
            self.made += 1
            yield self.made - 1


def settle(predicate, seconds=5.0):
    end = time.monotonic() + seconds
    while not predicate() and time.monotonic() < end:
        time.sleep(0.01)
    return predicate()


@pytest.mark.parametrize("depth", [1, 3])
def test_batches_come_in_order_never_more_than_depth_ahead(depth):
    src = Source()
    p = Prefetcher(src.batches, depth=depth)
    taken = []
    for _ in range(12):
        taken.append(p.next())
        # the thread fills every free slot, then waits: exactly ``depth`` made and not taken
        assert settle(lambda: src.made - len(taken) == depth)
        time.sleep(0.02)
        assert src.made - len(taken) == depth
        assert p.made_ahead == depth
    assert taken == list(range(12))
    p.close()


def test_a_stage_applies_in_the_thread_to_later_batches():
    src = Source()
    p = Prefetcher(src.batches, depth=2)
    assert p.next() == 0
    assert settle(lambda: p.made_ahead == 2)       # batches 1 and 2 made, the thread waits
    p.set_stage(lambda b: ("staged", b, threading.current_thread().name))
    got = [p.next() for _ in range(5)]
    # batches 1 and 2 were made before the stage was set; later ones went through it
    assert got[:2] == [1, 2]
    assert [g[1] for g in got[2:]] == [3, 4, 5]
    assert all(g[0] == "staged" and g[2] == "prefetch" for g in got[2:])
    p.close()


def test_close_joins_the_thread_and_closes_the_source():
    closed = threading.Event()

    def batches():
        try:
            while True:
                yield 1
        finally:
            closed.set()

    p = Prefetcher(batches, depth=2)
    p.next()
    thread = p._worker.thread
    p.close()
    assert not thread.is_alive() and closed.is_set()


DATA_NET = """
layer {{ name: "data" type: "Data" top: "data" top: "label"
        data_param {{ source: "{source}" backend: LMDB batch_size: 2 prefetch: 3 }} }}
layer {{ name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param {{ num_output: 1 weight_filler {{ type: "gaussian" std: 0.1 }} }} }}
layer {{ name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "loss" }}
"""


def data_net(tmp_path, records=10):
    values = [raw_datum(np.full((1, 2, 3), i, np.uint8), i).SerializeToString()
              for i in range(records)]
    fx.write_database([(f"{i:08d}".encode(), v) for i, v in enumerate(values)],
                      tmp_path / "db", "lmdb")
    return DATA_NET.format(source=tmp_path / "db")


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name.endswith("prefetch") and t.is_alive()]


def test_data_layer_order_bound_and_release_when_the_net_goes(tmp_path):
    before = len(prefetch_threads())
    net = Net(data_net(tmp_path), phase="train", seed=1)
    firsts = []
    for _ in range(7):
        net.forward()
        firsts.append(int(net.blobs["data"].data[0, 0, 0, 0]))
        prefetcher = net.layer("data")._held.prefetcher
        assert prefetcher.made_ahead <= 3          # data_param.prefetch batches at most
    # records in key order, two a batch, wrapping round the ten records
    assert firsts == [0, 2, 4, 6, 8, 0, 2]
    assert len(prefetch_threads()) == before + 1
    thread = prefetcher._worker.thread
    del net, prefetcher
    gc.collect()
    assert not thread.is_alive()                   # stopped and joined as the net went
    assert len(prefetch_threads()) == before


def test_on_the_cpu_batches_are_not_staged(tmp_path):
    net = Net(data_net(tmp_path), phase="train", seed=1)
    net.forward()
    held = net.layer("data")._held
    assert held.feed is None and held.prefetcher._worker.stage is None
    net.layer("data").close()


# ------------------------------------------------------------------ on a CUDA device
@pytest.mark.cuda
@CUDA
def test_stage_pins_and_copies_on_the_side_stream():
    batch = (np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.ones((2, 1), np.float32))
    staged = device_feed.stage(batch, "cuda")
    side = device_feed.side_stream("cuda")
    assert side != torch.cuda.current_stream()
    data, label = staged.take()
    assert data.device.type == "cuda" and label.device.type == "cuda"
    torch.testing.assert_close(data.cpu(), torch.from_numpy(batch[0]), rtol=0, atol=0)
    # the compute stream waited for the copy's event
    assert staged.event.query() or torch.cuda.current_stream().query() is not None


@pytest.mark.cuda
@CUDA
def test_data_layer_on_cuda_stages_in_the_prefetch_thread(tmp_path):
    net = Net(data_net(tmp_path), phase="train", seed=1).to("cuda")
    cpu = Net(data_net(tmp_path), phase="train", seed=1)
    for _ in range(6):
        net.forward()
        cpu.forward()
        assert net.blobs["data"].data.device.type == "cuda"
        torch.testing.assert_close(net.blobs["data"].data.cpu(), cpu.blobs["data"].data,
                                   rtol=0, atol=0)   # the same batches, copied exactly
    held = net.layer("data")._held
    assert held.feed is not None and held.prefetcher._worker.stage is not None
    net.layer("data").close()
    cpu.layer("data").close()


@pytest.mark.cuda
@CUDA
def test_training_on_cuda_reads_the_host_at_display_only(tmp_path, monkeypatch):
    from caffe_compat import get_solver
    from caffe_compat.diagnostics.glog import SolverLog
    from caffe_compat.solvers import host_reads
    from tests.small_training import make_small
    make_small(tmp_path, solver_type="SGD", extra="", max_iter=9, test_interval=0)
    monkeypatch.chdir(tmp_path)
    solver = get_solver("solver.prototxt", log=SolverLog(keep=True), device="cuda")
    solver.param.display = 4
    assert solver.defer_host_reads
    marks = []
    solver.add_callback(type("Marks", (), {
        "on_start": lambda self, s: marks.append(host_reads.reads),
        "on_gradients_ready": lambda self, s: marks.append(host_reads.reads)})())
    solver.solve()
    per_iteration = [b - a for a, b in zip(marks[::2], marks[1::2])]
    assert per_iteration == [1 if it % 4 == 0 else 0 for it in range(9)]
