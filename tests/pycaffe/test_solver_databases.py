"""pycaffe solvers and nets on one LMDB in one process, as Caffe runs them.

Caffe's LeNet tutorial re-creates its solver on the same database (``solver = None`` then
``caffe.get_solver(...)``), a solver's TRAIN and TEST nets usually read one database, and a
notebook may hold a solver and a separate test net at once: each reads the database at its own
position, and a solver that goes closes it when its last reference goes (no collector: Caffe's
destructors run then). Labels are record numbers, so equal labels are equal batches.
"""
import gc

import numpy as np
import pytest

import caffe
from caffe_compat.data import db as db_io
from tests.caffe_compat.test_data_sharing import N_RECORDS, assert_closed, write_db

NET = """name: "lmdb_net"
layer {{ name: "d" type: "Data" top: "data" top: "label" include {{ phase: TRAIN }}
  data_param {{ source: "{source}" backend: LMDB batch_size: {train_batch} }} }}
layer {{ name: "d" type: "Data" top: "data" top: "label" include {{ phase: TEST }}
  data_param {{ source: "{source}" backend: LMDB batch_size: {test_batch} }} }}
layer {{ name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param {{ num_output: {n} weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }}
layer {{ name: "seen" type: "Power" bottom: "label" top: "seen" include {{ phase: TEST }} }}
"""
SOLVER = """net: "{net}"
base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: 100 display: 0
test_iter: 2 test_interval: 2 random_seed: 1 snapshot_prefix: "{prefix}"
"""
STEPS = 6


@pytest.fixture
def lmdb_source(tmp_path):
    return write_db(tmp_path / "digits_lmdb", "lmdb")


@pytest.fixture
def solver_file(lmdb_source, net_file, tmp_path):
    def write(train_batch, test_batch):
        net = net_file(NET.format(source=lmdb_source, train_batch=train_batch,
                                  test_batch=test_batch, n=N_RECORDS))
        write.nets.append(net)
        return net_file(SOLVER.format(net=net, prefix=tmp_path / "snap"),
                        name=f"solver_{train_batch}_{test_batch}.prototxt")
    write.nets = []
    return write


def step(solver, record):
    """One iteration; records the training batch's labels and the last test pass's mean of
    the labels it read (a test pass runs at iterations 0, 2, 4...)."""
    solver.step(1)
    record.append(("train", solver.net.blobs["label"].data.astype(int).tolist()))
    scores = dict(solver._solver.test_scores[0])
    record.append(("test", np.asarray(scores["seen"]).tolist()))


def alone(solver_path):
    solver = caffe.get_solver(solver_path)
    record = []
    for _ in range(STEPS):
        step(solver, record)
    return record


def test_two_solvers_on_one_lmdb_read_what_each_reads_alone(solver_file, lmdb_source):
    path_a, path_b = solver_file(3, 4), solver_file(5, 2)
    want_a, want_b = alone(path_a), alone(path_b)
    assert lmdb_source not in db_io.open_handles()        # both closed
    # the first training batch is the first records (Caffe's cursor starts at the first key)
    assert want_a[0] == ("train", [0, 1, 2])
    a, b = caffe.get_solver(path_a), caffe.get_solver(path_b)
    got_a, got_b = [], []
    for _ in range(STEPS):
        step(a, got_a)
        step(b, got_b)
    # exact: the same records in the same order, whatever the other solver read
    assert got_a == want_a
    assert got_b == want_b


def test_a_solver_and_a_test_net_on_one_lmdb(solver_file, lmdb_source):
    path = solver_file(3, 4)
    want = alone(path)
    test_net = caffe.Net(solver_file.nets[-1], caffe.TEST)
    solver = caffe.get_solver(path)
    got, seen = [], []
    for _ in range(STEPS):
        step(solver, got)
        test_net.forward()
        seen.append(test_net.blobs["label"].data.astype(int).tolist())
    assert got == want                           # exact: independent positions
    assert seen == [[(4 * k + i) % N_RECORDS for i in range(4)] for k in range(STEPS)]
    assert db_io.open_handles()[lmdb_source] == 3   # TRAIN, TEST of the solver; the net
    del solver
    assert db_io.open_handles()[lmdb_source] == 1
    del test_net
    assert_closed(lmdb_source, "lmdb")


@pytest.mark.parametrize("stepped", [False, True])
def test_del_solver_closes_the_lmdb_without_the_collector(solver_file, lmdb_source, stepped):
    path = solver_file(3, 4)
    gc.collect()
    gc.disable()
    try:
        solver = caffe.get_solver(path)
        if stepped:
            solver.step(3)                      # threads running, test passes done
        del solver
        # no gc.collect(): no reference cycle holds the solver, its nets or their layers
        assert_closed(lmdb_source, "lmdb")
    finally:
        gc.enable()


def test_no_reference_cycle_is_left_for_the_collector(solver_file):
    path = solver_file(3, 4)
    caffe.get_solver(path).step(1)              # imports and caches done
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        solver = caffe.get_solver(path)
        solver.step(3)
        net = solver.net
        net.forward()
        test_net = caffe.Net(solver_file.nets[-1], caffe.TEST)
        test_net.forward()
        del solver, net, test_net
        gc.collect()
        # exact: everything went by reference counting, the collector finds nothing
        assert gc.garbage == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_lenet_tutorial_recreates_its_solver_on_the_same_lmdb(solver_file, lmdb_source):
    path = solver_file(3, 4)
    solver = caffe.get_solver(path)
    solver.net.forward()
    solver.test_nets[0].forward()
    first = solver.net.blobs["label"].data.astype(int).tolist()
    solver = None                                # the tutorial's own words
    solver = caffe.get_solver(path)
    solver.net.forward()
    solver.test_nets[0].forward()
    # exact: a new solver reads from the first record again
    assert solver.net.blobs["label"].data.astype(int).tolist() == first == [0, 1, 2]
    solver.step(2)
    assert solver.iter == 2
    solver = None
    assert_closed(lmdb_source, "lmdb")
