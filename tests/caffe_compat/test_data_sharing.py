"""Databases open once per process, shared by their readers, closed with the last of them.

Every reader of one LMDB (or LevelDB) in the process shares one handle: two nets read the same
database, each at its own position, and a net that goes (its last reference dropped, without
the collector) stops its prefetch thread and closes what it reads before ``del`` returns. The
proof of a close is a reopen that py-lmdb (once per process, by file) or LevelDB (its LOCK,
once per process) refuses while the database is still open here.
"""
import gc
import threading

import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.data import db as db_io
from caffe_compat.data.images import raw_datum
from caffe_compat.errors import DataError

N_RECORDS = 20


def write_db(path, backend, n=N_RECORDS):
    """Records '0000'.. whose pixels and label are the record's number."""
    with db_io.create_db(path, backend) as w:
        for i in range(n):
            w.put(f"{i:04d}".encode(),
                  raw_datum(np.full((1, 2, 2), i, np.uint8), i).SerializeToString())
    return str(path)


def data_net(source, backend, batch):
    return (f'layer {{ name: "d" type: "Data" top: "data" top: "label" data_param {{ '
            f'source: "{source}" backend: {backend.upper()} batch_size: {batch} }} }}')


def labels_of(net, n):
    out = []
    for _ in range(n):
        net.forward()
        out.append(net.blobs["label"].data.numpy().astype(int).tolist())
    return out


def expected_labels(batch, n):
    return [[(k * batch + i) % N_RECORDS for i in range(batch)] for k in range(n)]


def assert_closed(path, backend):
    """The database is closed in this process: an exclusive open of it here succeeds."""
    assert path not in db_io.open_handles(backend)
    if backend == "lmdb":
        import lmdb
        # py-lmdb refuses a second open of the same files in one process: this proves ours
        # was closed; lock=True and a write transaction make the reopen exclusive
        env = lmdb.open(path, lock=True, readonly=False, create=False)
        with env.begin(write=True) as txn:
            assert txn.stat()["entries"] == N_RECORDS
            txn.abort()
        env.close()
    else:
        import plyvel
        db = plyvel.DB(path, create_if_missing=False)   # LevelDB's LOCK: once per process
        db.close()


@pytest.fixture(params=["lmdb", "leveldb"])
def source(request, tmp_path):
    return write_db(tmp_path / f"db_{request.param}", request.param), request.param


def test_two_nets_read_one_database_each_at_its_own_position(source):
    path, backend = source
    a = Net(data_net(path, backend, 3), phase="train")
    b = Net(data_net(path, backend, 7), phase="test")
    assert db_io.open_handles(backend).get(path) == 2
    got_a, got_b = [], []
    for _ in range(8):                      # interleaved, both threads prefetching
        got_a += labels_of(a, 1)
        got_b += labels_of(b, 1)
    # exact: each net reads the records in key order from the first, wrapping at the end,
    # as it does alone
    assert got_a == expected_labels(3, 8)
    assert got_b == expected_labels(7, 8)
    del a
    assert db_io.open_handles(backend).get(path) == 1
    assert labels_of(b, 1) == [expected_labels(7, 9)[-1]]
    del b
    assert_closed(path, backend)


def test_a_dropped_net_closes_its_database_without_the_collector(source):
    path, backend = source
    before = threading.active_count()
    gc.collect()
    gc.disable()
    try:
        net = Net(data_net(path, backend, 4), phase="train")
        labels_of(net, 2)
        assert threading.active_count() == before + 1
        del net
        # no gc.collect(): reference counting alone stops the thread and closes the database
        assert threading.active_count() == before
        assert_closed(path, backend)
        net = Net(data_net(path, backend, 4), phase="train")    # before any forward
        del net
        assert_closed(path, backend)
    finally:
        gc.enable()


def test_close_releases_the_database_and_the_thread(source):
    path, backend = source
    before = threading.active_count()
    net = Net(data_net(path, backend, 5), phase="train")
    labels_of(net, 1)
    net.layers["d"].close()
    assert threading.active_count() == before
    assert_closed(path, backend)
    net.layers["d"].close()                 # twice is harmless
    del net
    assert path not in db_io.open_handles()


def test_readers_in_threads_share_an_lmdb_that_is_remapped(tmp_path, monkeypatch):
    monkeypatch.setattr(db_io, "LMDB_REMAP_BYTES", 1000)     # remap every ~3 records
    path = str(tmp_path / "db")
    with db_io.create_db(path, "lmdb") as w:
        for i in range(N_RECORDS):
            w.put(f"{i:04d}".encode(), bytes([i]) * 400)
    readers = [db_io.open_db(path, "lmdb") for _ in range(3)]
    got = [[] for _ in readers]
    errors = []

    def read(reader, out, n):
        try:
            it = reader.records()
            out.extend(next(it)[0] for _ in range(n))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=read, args=(r, out, 300 + 7 * i))
               for i, (r, out) in enumerate(zip(readers, got))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # ~900 records of 400 bytes read by the three in ~300 groups, each passing the budget; a
    # group counted while another reader remaps adds to the next remap (at least one in three)
    assert readers[0]._shared.reopened >= 50
    want = [f"{i:04d}".encode() for i in range(N_RECORDS)]
    for i, keys in enumerate(got):
        n = 300 + 7 * i
        assert keys == (want * (n // N_RECORDS + 1))[:n]
    for r in readers:
        r.close()
    assert_closed(path, "lmdb")


def test_a_closed_reader_says_so(source):
    path, backend = source
    reader = db_io.open_db(path, backend)
    records = reader.records()
    next(records)
    reader.close()
    with pytest.raises(DataError, match=f"the {backend} reader of .* is closed"):
        reader.first()
    with pytest.raises(DataError, match=f"the {backend} reader of .* is closed"):
        for _ in range(2 * N_RECORDS):      # LMDB: after the records already read
            next(records)


def test_leveldb_held_by_another_process_is_a_clear_error(tmp_path):
    import subprocess
    import sys
    path = write_db(tmp_path / "db", "leveldb")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import plyvel, sys; db = plyvel.DB(sys.argv[1]); "
         "print('open', flush=True); sys.stdin.read()", path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(DataError, match=r"layer 'd'.*cannot open LevelDB .*another "
                                            "process holds it"):
            Net(data_net(path, "leveldb", 2), phase="train")
    finally:
        holder.communicate("")
    assert path not in db_io.open_handles()


def test_a_net_that_fails_to_build_leaves_its_database_closed(tmp_path):
    path = write_db(tmp_path / "db", "lmdb", n=0)
    with pytest.raises(DataError, match="the database has no records") as failure:
        Net(data_net(path, "lmdb", 2), phase="train")
    # the error (kept here, with the frames of the failed set-up) holds no open database
    assert failure.value is not None
    assert path not in db_io.open_handles()
    lmdb = pytest.importorskip("lmdb")
    lmdb.open(path, lock=True, readonly=False, create=False).close()


def test_a_net_failing_after_its_data_layer_leaves_the_database_closed(tmp_path):
    path = write_db(tmp_path / "db", "lmdb")
    text = data_net(path, "lmdb", 2) + ' layer { name: "bad" type: "NoSuchType" bottom: "data" }'
    with pytest.raises(Exception, match="NoSuchType") as failure:
        Net(text, phase="train")
    assert failure.value is not None
    assert_closed(path, "lmdb")
