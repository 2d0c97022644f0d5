"""HDF5Source: Caffe's HDF5DataLayer iteration (row by row, file after file, back to the first
file), shuffling, errors naming the file, saved read positions, and streaming reads."""
import json
import os

import h5py
import numpy as np
import pytest

from caffe_compat.data.caffe_random import LIBC_RAND, LibcRand
from caffe_compat.data.hdf5 import HDF5Source, read_source_list
from caffe_compat.errors import DataError


def make_files(folder, rows, shape=(2, 3), seed=0, names=None):
    """One .h5 per entry of ``rows``; row r of file i holds values identifying (i, r)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i, n in enumerate(rows):
        path = os.path.join(folder, (names or [f"f{j}.h5" for j in range(len(rows))])[i])
        data = rng.random((n,) + shape, dtype=np.float32)
        data[:, 0, 0] = 1000 * i + np.arange(n)          # identifies the row
        with h5py.File(path, "w") as f:
            f["data"] = data
            f["label"] = (1000 * i + np.arange(n, dtype=np.float32))[:, None]
            f["extra"] = np.zeros((n, 1), np.float32)
        paths.append(path)
    return paths


def make_list(folder, paths, name="list.txt"):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("\n".join(os.path.basename(p) for p in paths) + "\n")
    return path


def ids(batch):
    return batch[0][:, 0, 0].astype(int).tolist()


def test_several_files_batch_not_dividing_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = make_files(str(tmp_path), [5, 7, 3])
    src = HDF5Source(make_list(str(tmp_path), paths), ["data", "label"], batch_size=4)
    order = [0, 1, 2, 3, 4, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 2000, 2001, 2002]
    got = []
    for _ in range(12):  # 48 rows: three full passes plus three rows
        batch = src.next_batch()
        assert batch[0].shape == (4, 2, 3) and batch[1].shape == (4, 1)
        assert ids(batch) == batch[1][:, 0].astype(int).tolist()  # tops stay aligned
        got += ids(batch)
    assert got == [order[i % 15] for i in range(48)]


def test_single_file_wraps_to_row_zero(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = HDF5Source(make_list(str(tmp_path), make_files(str(tmp_path), [7])), ["data"], 3)
    got = sum((ids(src.next_batch()) for _ in range(5)), [])
    assert got == [i % 7 for i in range(15)]


def test_datasets_read_by_top_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = HDF5Source(make_list(str(tmp_path), make_files(str(tmp_path), [4])),
                     ["label", "data"], 2)
    label, data = src.next_batch()
    assert label.shape == (2, 1) and data.shape == (2, 2, 3)
    assert label[:, 0].tolist() == [0.0, 1.0] and label.dtype == np.float32


def test_integer_datasets_become_float32(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with h5py.File("int.h5", "w") as f:
        f["data"] = np.arange(12, dtype=np.int16).reshape(4, 3)
    src = HDF5Source(make_list(str(tmp_path), ["int.h5"]), ["data"], 3)
    batch = src.next_batch()[0]
    assert batch.dtype == np.float32 and batch[2].tolist() == [6, 7, 8]


def test_shuffle_is_a_permutation_per_epoch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = make_files(str(tmp_path), [5, 7, 3])
    src = HDF5Source(make_list(str(tmp_path), paths), ["data", "label"], 1, shuffle=True)
    rows = {0: set(range(5)), 1: {1000 + r for r in range(7)}, 2: {2000 + r for r in range(3)}}
    epochs = []
    for _ in range(4):
        epoch = [ids(src.next_batch())[0] for _ in range(15)]
        assert sorted(epoch) == sorted(set().union(*rows.values()))
        # files come one after the other, each as one contiguous block, in a shuffled order
        files = [v // 1000 for v in epoch]
        blocks = [files[0]] + [f for a, f in zip(files, files[1:]) if f != a]
        assert sorted(blocks) == [0, 1, 2]
        for f in blocks:
            assert set(v for v in epoch if v // 1000 == f) == rows[f]
        epochs.append(tuple(epoch))
    assert len(set(epochs)) > 1  # reshuffled between epochs


def test_shuffle_with_one_file_reshuffles_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = HDF5Source(make_list(str(tmp_path), make_files(str(tmp_path), [9])), ["data"], 9,
                     shuffle=True)
    a, b = ids(src.next_batch()), ids(src.next_batch())
    assert sorted(a) == sorted(b) == list(range(9)) and a != b


# Rows read by Caffe 1.0 (pycaffe, one process, batch_size 3, 12 forwards) from a.h5 (rows
# 0..6) alone and then, in the same process, from a.h5 and b.h5 (rows 100..104), both with
# shuffle: HDF5DataLayer's std::random_shuffle on the process's rand()
CAFFE_ONE_FILE = [4, 3, 1, 6, 0, 5, 2, 1, 0, 5, 4, 6, 2, 3, 2, 3, 1, 4, 5, 0, 6, 3, 1, 6, 0, 4,
                  5, 2, 1, 5, 0, 4, 6, 2, 3, 0]
CAFFE_TWO_FILES = [1, 2, 3, 5, 4, 6, 0, 103, 100, 104, 101, 102, 104, 100, 102, 101, 103, 6,
                   2, 0, 4, 1, 5, 3, 3, 4, 2, 1, 5, 0, 6, 103, 104, 102, 101, 100]


def test_shuffle_is_caffes_draw_for_draw(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, rows, first in (("a.h5", 7, 0), ("b.h5", 5, 100)):
        with h5py.File(name, "w") as f:
            f["data"] = (np.arange(rows, dtype=np.float32) + first).reshape(rows, 1)
    LIBC_RAND.seed(1)                          # a new process: Caffe never calls srand
    got = []
    for files, want in ((["a.h5"], CAFFE_ONE_FILE), (["a.h5", "b.h5"], CAFFE_TWO_FILES)):
        src = HDF5Source(make_list(str(tmp_path), files), ["data"], 3, shuffle=True)
        got.append([int(v) for _ in range(12) for v in src.next_batch()[0].ravel()])
    assert got == [CAFFE_ONE_FILE, CAFFE_TWO_FILES]


def test_libc_rand_is_glibcs():
    # glibc's rand() after srand(1) and srand(12345) (the C standard's reference sequence for
    # seed 1 starts 1804289383, 846930886, 1681692777 in glibc)
    rand = LibcRand(1)
    assert rand.draw(3) == [1804289383, 846930886, 1681692777]
    assert LibcRand(12345).draw(3) == [383100999, 858300821, 357768173]
    state = rand.state()
    a = rand.draw(50)
    rand.set_state(state)
    assert rand.draw(50) == a
    with pytest.raises(ValueError):
        rand.set_state([1] * 33)


@pytest.mark.parametrize("shuffle", [False, True])
def test_state_round_trip(tmp_path, monkeypatch, shuffle):
    monkeypatch.chdir(tmp_path)
    lst = make_list(str(tmp_path), make_files(str(tmp_path), [5, 7, 3]))
    src = HDF5Source(lst, ["data", "label"], 4, shuffle=shuffle)
    for _ in range(5):
        src.next_batch()
    state = json.loads(json.dumps(src.state_dict()))
    expected = [ids(src.next_batch()) for _ in range(8)]
    other = HDF5Source(lst, ["data", "label"], 4, shuffle=shuffle)
    other.load_state_dict(state)
    assert [ids(other.next_batch()) for _ in range(8)] == expected
    other.reset()
    assert (other.current_file, other.current_row) == (0, 0)


def test_state_of_other_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lst = make_list(str(tmp_path), make_files(str(tmp_path), [5, 7]))
    state = HDF5Source(lst, ["data"], 2).state_dict()
    one = make_list(str(tmp_path), ["f0.h5"], "one.txt")
    with pytest.raises(DataError, match="other files"):
        HDF5Source(one, ["data"], 2).load_state_dict(state)


# ------------------------------------------------------------------------ errors
def test_missing_list(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="HDF5 source list 'nope.txt' does not exist"):
        HDF5Source("nope.txt", ["data"], 2)


def test_missing_file_in_list(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_files(str(tmp_path), [3])
    lst = make_list(str(tmp_path), ["f0.h5", "missing.h5"])
    with pytest.raises(DataError, match="list.txt:2: HDF5 file 'missing.h5' does not exist"):
        HDF5Source(lst, ["data"], 2)


def test_empty_list(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(DataError, match="names no files"):
        HDF5Source("empty.txt", ["data"], 2)


def test_missing_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lst = make_list(str(tmp_path), make_files(str(tmp_path), [3]))
    with pytest.raises(DataError, match="HDF5 file 'f0.h5' has no dataset 'image' "
                                        "\\(it has: data, extra, label\\)"):
        HDF5Source(lst, ["image"], 2)


def test_mismatched_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with h5py.File("bad.h5", "w") as f:
        f["data"] = np.zeros((4, 2), np.float32)
        f["label"] = np.zeros((3, 1), np.float32)
    with pytest.raises(DataError, match="datasets of 'bad.h5' disagree in row count"):
        HDF5Source(make_list(str(tmp_path), ["bad.h5"]), ["data", "label"], 2)


def test_wrong_shape_in_a_later_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_files(str(tmp_path), [3])
    make_files(str(tmp_path), [3], shape=(2, 4), names=["g.h5"])
    src = HDF5Source(make_list(str(tmp_path), ["f0.h5", "g.h5"]), ["data"], 2)
    src.next_batch()
    with pytest.raises(DataError, match="HDF5 file 'g.h5' has row shapes \\[\\(2, 4\\)\\], the "
                                        "first file had \\[\\(2, 3\\)\\]"):
        src.next_batch()


def test_not_numeric_and_not_hdf5(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with h5py.File("str.h5", "w") as f:
        f["data"] = np.array([b"a", b"b"])
    with pytest.raises(DataError, match="dataset 'data' in 'str.h5' must be a numeric"):
        HDF5Source(make_list(str(tmp_path), ["str.h5"]), ["data"], 1)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(DataError, match="cannot open HDF5 file 'text.h5'"):
        HDF5Source(make_list(str(tmp_path), ["text.h5"], "t.txt"), ["data"], 1)


def test_bad_batch_size(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="batch_size must be positive"):
        HDF5Source(make_list(str(tmp_path), make_files(str(tmp_path), [3])), ["data"], 0)


def test_paths_relative_to_cwd_then_list_folder(tmp_path, monkeypatch):
    sub = tmp_path / "d"
    sub.mkdir()
    make_files(str(sub), [3])
    lst = make_list(str(sub), ["f0.h5"])
    monkeypatch.chdir(tmp_path)
    assert read_source_list(lst) == [os.path.join(str(sub), "f0.h5")]


# ------------------------------------------------------------------------ streaming
def test_reads_only_batches(tmp_path, monkeypatch):
    """A file far larger than a batch is never read whole: every dataset read covers at most
    batch_size rows (contiguous slices when not shuffled, point selections when shuffled)."""
    monkeypatch.chdir(tmp_path)
    with h5py.File("big.h5", "w") as f:
        f.create_dataset("data", shape=(5000, 1, 32, 32), dtype=np.float32,
                         chunks=(16, 1, 32, 32))
        f["data"][:64] = 1.0
        f["label"] = np.arange(5000, dtype=np.float32)[:, None]
    lst = make_list(str(tmp_path), ["big.h5"])
    sizes = []
    original = h5py.Dataset.__getitem__

    def counting(self, key):
        out = original(self, key)
        sizes.append(out.shape[0] if getattr(out, "ndim", 0) else 1)
        return out
    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    for shuffle in (False, True):
        sizes.clear()
        src = HDF5Source(lst, ["data", "label"], 16, shuffle=shuffle)
        for _ in range(10):
            batch = src.next_batch()
        assert batch[0].shape == (16, 1, 32, 32)
        assert sizes and max(sizes) <= 16, sizes
        assert sum(sizes) == 10 * 16 * 2  # two datasets, ten batches, nothing more


def test_batches_are_copies_of_the_rows(tmp_path, monkeypatch):
    """A layer may write into its tops in place (Caffe's tops are the layer's own blobs): a
    batch changed by its reader leaves the rows of the next epoch as the file holds them."""
    monkeypatch.chdir(tmp_path)
    src = HDF5Source(make_list(str(tmp_path), make_files(str(tmp_path), [7])), ["data"], 3)
    first = [src.next_batch()[0] for _ in range(2)]         # rows 0-2 (file read), 3-5
    for batch in first:
        batch[:] = -1
    later = [ids(src.next_batch()) for _ in range(3)]        # 6,0,1  2,3,4  5,6,0
    assert later == [[6, 0, 1], [2, 3, 4], [5, 6, 0]]
