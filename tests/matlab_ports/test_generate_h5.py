"""generate_h5.m / writeh5file.m / prepare_h5_files.m ports against an in-memory transcription.

The reference below is the script line by line in numpy, holding everything in memory, with
MATLAB's array semantics where the script relies on them (growth on indexed assignment, zero
fill, ``data(:,:,n)`` linear over trailing dimensions, out-of-range reads failing), the ported
primitives (imresize, the random stream, store2hdf5) and ``math.fsum`` for ``sum``. The
streaming port must write the same files bit for bit: every step is the same IEEE operation on
the same operands in both (class conversion to double, bicubic resizing, one subtraction and
one division per element, rounding to single), and both sums are exactly rounded, so the
tolerance is 0 (compared as bit patterns, signed zeros included).
"""
import importlib
import itertools
import math
import os
import tracemalloc

import h5py
import numpy as np
import pytest

from matlab_ports import generate_h5 as gh5
from matlab_ports.errors import PortError, PortFileError
from matlab_ports.generate_h5 import ExactSum, H5Options, exact_sum, generate_h5
from matlab_ports.hdf5 import store2hdf5
from matlab_ports.imresize import imresize
from matlab_ports.matfile import loadmat, savemat
from matlab_ports.prepare_h5_files import TEST, TRAIN, prepare_h5_files
from matlab_ports.rng import MatlabRandomStream

CHUNK = 4


# ---------------------------------------------------------------------------------------------
# The reference: generate_h5.m in memory


def _grow(a, shape):
    """MATLAB's growth on indexed assignment: zero-pad ``a`` to at least ``shape``."""
    if a.ndim < len(shape):
        a = a.reshape(a.shape + (1,) * (len(shape) - a.ndim))
    new = tuple(max(x, y) for x, y in zip(a.shape, shape))
    if new != a.shape:
        b = np.zeros(new)
        b[tuple(slice(0, n) for n in a.shape)] = a
        a = b
    return a


def _fsum_all(a):
    return math.fsum(a.ravel(order="F").tolist())


def ref_writeh5file(count, chunksz, data, label, savepath):
    created = False
    totalct = 0
    for batchno in range(1, count // chunksz + 1):
        last_read = (batchno - 1) * chunksz
        batchdata = data[:, :, :, last_read:last_read + chunksz]
        batchlabs = label[0:1, last_read:last_read + chunksz]
        startloc = {"dat": [1, 1, 1, totalct + 1], "lab": [1, totalct + 1]}
        curr_dat_sz, _ = store2hdf5(savepath, batchdata, batchlabs, not created, startloc,
                                    chunksz)
        created = True
        totalct = curr_dat_sz[-1]
    assert created, "h5disp would fail: nothing written"


def ref_generate_h5(inputs, inputsz, savepath, chunksz, options, stream):
    """generate_h5.m; ``options['multi_tail'] == 'zeros'`` pads where MATLAB fails."""
    if options["mode"] == "single":
        data = np.zeros((inputsz, inputsz))                    # zeros(inputsz, inputsz, 1, 1)
    elif options["mode"] == "multi":
        data = np.zeros((inputsz, inputsz, 1, 3))
    else:
        raise ValueError("Unknow mode.")
    label = np.zeros((1, 1))
    count = 0
    for path in inputs:
        v = loadmat(path)
        video, valence = v["video"], v["valence"]
        if video.ndim == 2:
            video = video[:, :, None]
        video = video.astype(np.float64)                     # assignment into a double array
        n = video.shape[2]
        if options["mode"] == "single":
            data = _grow(data, (inputsz, inputsz, count + n))
            data[:, :, count:count + n] = video
        else:
            if n - 2 > 0:
                data = _grow(data, (inputsz, inputsz, count + n - 2, 3))
                data[:, :, count:count + n - 2, 0] = video[:, :, 0:n - 2]
                data[:, :, count:count + n - 2, 1] = video[:, :, 1:n - 1]
                data[:, :, count:count + n - 2, 2] = video[:, :, 2:n]
        label = _grow(label, (1, count + n))
        label[0, count:count + n] = valence.ravel(order="F") if valence.size == n else valence
        count += n

    if options["mix"]:
        mix_lr = options["mix_lr"]
        for n in range(1, count + 1):
            # data(:,:,n): linear over the trailing dimensions; out of range is an error
            idx = np.unravel_index(n - 1, data.shape[2:], order="F")
            sl = (slice(None), slice(None)) + tuple(int(i) for i in idx)
            frame = data[sl]
            r = int(stream.unidrnd(len(mix_lr)).item())
            data[sl] = imresize(imresize(frame, 1 / mix_lr[r - 1], method="bicubic"),
                                output_size=(96, 96), method="bicubic")

    data = data.reshape(data.shape + (1,) * (4 - data.ndim)).transpose(0, 1, 3, 2)
    order = stream.randperm(count)
    if order.max() > data.shape[3]:
        if options.get("multi_tail", "error") != "zeros":
            raise IndexError("Index exceeds matrix dimensions.")
        data = _grow(data, (inputsz, inputsz, data.shape[2], count))
    data = data[:, :, :, order - 1]
    label = label[:, order - 1]

    if options["augmentation"]:
        data = np.flip(data, 1)                              # flip(data, 2)
    mean = std = None
    if options["mean_sub"]:
        mean = _fsum_all(data) / data.size
        data = data - mean
    if options["norm"]:
        x = data.ravel(order="F")
        mu = math.fsum(x.tolist()) / x.size
        std = math.sqrt(math.fsum(np.square(x - mu).tolist()) / (x.size - 1))
        data = data / std

    if options["mode"] == "single":
        ref_writeh5file(count, chunksz, data, label, savepath + ".h5")
    else:
        new_count = count // options["split"]
        for i in range(1, options["split"] + 1):
            part = slice((i - 1) * new_count, i * new_count)
            ref_writeh5file(new_count, chunksz, data[:, :, :, part], label[:, part],
                            f"{savepath}_{i}.h5")
    return mean, std


# ---------------------------------------------------------------------------------------------
# Inputs and comparisons


def write_seq(path, rng, n, cls="double", size=96, exact_single=True, valence=None):
    """A <seq>.mat as prepare_dataset.m saves it: video size x size x n, valence 1xn."""
    v = rng.random((size, size, n))
    if exact_single:
        v = v.astype(np.float32).astype(np.float64)
    if cls == "single":
        v = v.astype(np.float32)
    if valence is None:
        valence = rng.uniform(-1, 1, (1, n))
    savemat(path, {"video": v, "valence": valence,
                   "video_time": np.arange(n, dtype=np.float64)[None, :] * 0.04})
    return str(path)


@pytest.fixture(scope="module")
def seqs(tmp_path_factory):
    """Three sequences: double holding singles, single, and double with full mantissas."""
    d = tmp_path_factory.mktemp("seqs")
    rng = np.random.default_rng(7)
    return [write_seq(d / "a.mat", rng, 7), write_seq(d / "b.mat", rng, 13, cls="single"),
            write_seq(d / "c.mat", rng, 9, exact_single=False)]


def h5_files(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith(".h5"))


def assert_same_h5(got, want):
    with h5py.File(got, "r") as a, h5py.File(want, "r") as b:
        assert sorted(a.keys()) == sorted(b.keys()) == ["data", "label"]
        for name in ("data", "label"):
            x, y = a[name], b[name]
            assert x.shape == y.shape and x.dtype == y.dtype == np.dtype("<f4")
            assert x.chunks == y.chunks and x.maxshape == y.maxshape
            # Tolerance 0, bit patterns: same operations on the same operands (module doc).
            assert np.array_equal(x[()].view(np.uint32), y[()].view(np.uint32)), (got, name)


def run_both(tmp_path, inputs, options, chunksz=CHUNK, seed=0, **kw):
    ours, ref = tmp_path / "ours", tmp_path / "ref"
    ref.mkdir(parents=True, exist_ok=True)
    s1, s2 = MatlabRandomStream(seed), MatlabRandomStream(seed)
    res = generate_h5(inputs, 96, ours / "train", chunksz, options, s1, progress=False, **kw)
    mean, std = ref_generate_h5(inputs, 96, str(ref / "train"), chunksz, dict(
        dataclass_dict(options)), s2)
    names = h5_files(ref)
    assert h5_files(ours) == names and names
    for name in names:
        assert_same_h5(ours / name, ref / name)
    # the stream advanced by the same draws
    assert s1.get_state() == s2.get_state()
    return res, mean, std


def dataclass_dict(options):
    import dataclasses

    return dataclasses.asdict(H5Options.coerce(options))


# ---------------------------------------------------------------------------------------------
# Every option combination


COMBOS = [(mode, mix, aug, mean_sub, norm, split)
          for mode, split in (("single", 1), ("multi", 1), ("multi", 3))
          for mix, aug, mean_sub, norm in itertools.product((False, True), repeat=4)]


@pytest.mark.parametrize("mode,mix,aug,mean_sub,norm,split", COMBOS)
def test_matches_reference(tmp_path, seqs, mode, mix, aug, mean_sub, norm, split):
    options = {"mode": mode, "mix": mix, "augmentation": aug, "mean_sub": mean_sub,
               "norm": norm, "split": split, "multi_tail": "zeros"}
    res, mean, std = run_both(tmp_path, seqs, options)
    count = 7 + 13 + 9
    assert res.count == count and res.frames == count
    if mode == "single":
        assert res.samples == [count // CHUNK * CHUNK]
    else:
        per = count // split
        assert res.samples == [per // CHUNK * CHUNK] * split
    assert res.dropped == count - sum(res.samples)
    # Tolerance 0: both are the exactly rounded sum divided by numel.
    assert res.mean == mean and res.std == std
    with open(res.list_file) as f:
        assert [line.strip() for line in f] == res.files


def test_single_contents_by_hand(tmp_path, seqs):
    """Without options the file is the shuffled frames as singles: checked directly."""
    res = generate_h5(seqs, 96, tmp_path / "train", CHUNK, None, MatlabRandomStream(0),
                      progress=False)
    frames = np.concatenate([loadmat(p)["video"].astype(np.float64) for p in seqs], axis=2)
    labels = np.concatenate([loadmat(p)["valence"].ravel() for p in seqs])
    order = MatlabRandomStream(0).randperm(frames.shape[2])[:28] - 1
    with h5py.File(res.files[0], "r") as f:
        assert f["data"].shape == (28, 1, 96, 96) and f["label"].shape == (28, 1)
        # h5[n, 0, i, j] == data(j+1, i+1, 1, n+1); tolerance 0: single(double) of singles.
        assert np.array_equal(f["data"][:, 0], frames[:, :, order].T.astype(np.float32))
        assert np.array_equal(f["label"][:, 0], labels[order].astype(np.float32))


def test_multi_stacks_and_zero_slots(tmp_path, seqs):
    """Sample j of a video = frames j, j+1, j+2 with the valence of frame j; the last two
    samples of every video are zeros."""
    options = {"mode": "multi", "multi_tail": "zeros"}
    generate_h5(seqs, 96, tmp_path / "m", 29, options, MatlabRandomStream(3), progress=False)
    frames = [loadmat(p)["video"].astype(np.float64) for p in seqs]
    labels = np.concatenate([loadmat(p)["valence"].ravel() for p in seqs])
    order = MatlabRandomStream(3).randperm(29) - 1
    want = np.zeros((29, 3, 96, 96))
    c = 0
    for v in frames:
        for j in range(v.shape[2] - 2):
            for k in range(3):
                want[c + j, k] = v[:, :, j + k].T
        c += v.shape[2]
    with h5py.File(tmp_path / "m_1.h5", "r") as f:
        # Tolerance 0: singles stored as singles.
        assert np.array_equal(f["data"][()], want[order].astype(np.float32))
        assert np.array_equal(f["label"][:, 0], labels[order].astype(np.float32))
    zero = [c + n - k for c, n in ((0, 7), (7, 13), (20, 9)) for k in (1, 2)]
    assert all(not want[s].any() for s in zero)


def test_multi_fails_where_matlab_fails(tmp_path, seqs):
    """The stacks array has count-2 samples; data(:,:,:,randperm(count)) is out of range."""
    for mix in (False, True):
        options = {"mode": "multi", "mix": mix}
        s1, s2 = MatlabRandomStream(0), MatlabRandomStream(0)
        with pytest.raises(PortError, match="cannot finish.*multi-tail zeros"):
            generate_h5(seqs, 96, tmp_path / "m", CHUNK, options, s1, progress=False)
        with pytest.raises(IndexError):
            ref_generate_h5(seqs, 96, str(tmp_path / "r"), CHUNK, dataclass_dict(options), s2)
        assert s1.get_state() == s2.get_state()
        assert os.listdir(tmp_path) == []


def test_failures_known_from_headers_come_before_loading(tmp_path, seqs, monkeypatch):
    """The multi failure and too few samples are found from the .mat headers, before any
    frame is read; a file that then fails to load leaves the stream where it was (MATLAB stops
    at load, before drawing)."""
    import matlab_ports.matfile as matfile

    def no_load(path):
        raise AssertionError("frames read")

    monkeypatch.setattr(matfile, "loadmat", no_load)
    with pytest.raises(PortError, match="cannot finish"):
        generate_h5(seqs, 96, tmp_path / "m", CHUNK, {"mode": "multi"}, MatlabRandomStream(0),
                    progress=False)
    with pytest.raises(PortError, match="fewer than chunksz"):
        generate_h5(seqs, 96, tmp_path / "m", 64, None, MatlabRandomStream(0), progress=False)
    monkeypatch.undo()
    novalence = tmp_path / "nv.mat"
    savemat(novalence, {"video": np.zeros((96, 96, 3))})
    stream = MatlabRandomStream(0)
    before = stream.get_state()
    with pytest.raises(PortFileError, match="no variable 'valence'"):
        generate_h5(seqs + [novalence], 96, tmp_path / "m", CHUNK, {"mix": True}, stream,
                    progress=False)
    assert stream.get_state() == before
    assert sorted(os.listdir(tmp_path)) == ["nv.mat"]


def test_multi_mix_short_videos_fail_in_the_loop(tmp_path):
    """Videos of < 3 frames: nothing is allocated and data(:,:,n) fails inside the mix loop,
    after allocated*3 draws."""
    rng = np.random.default_rng(1)
    inputs = [write_seq(tmp_path / f"s{i}.mat", rng, 2) for i in range(3)]
    options = {"mode": "multi", "mix": True, "multi_tail": "zeros"}
    s1, s2 = MatlabRandomStream(0), MatlabRandomStream(0)
    with pytest.raises(PortError, match="Index exceeds"):
        generate_h5(inputs, 96, tmp_path / "out" / "m", 2, options, s1, progress=False)
    with pytest.raises(ValueError):
        ref_generate_h5(inputs, 96, str(tmp_path / "m"), 2, dataclass_dict(options), s2)
    assert s1.get_state() == s2.get_state()


def test_odd_inputs_match_reference(tmp_path):
    """A one-frame video stored 2-D, a scalar valence, uint8 frames, a 2-frame video in multi,
    a v7.3 file."""
    rng = np.random.default_rng(5)
    inputs = [write_seq(tmp_path / "a.mat", rng, 1, valence=np.array([[0.25]])),
              write_seq(tmp_path / "b.mat", rng, 6, valence=np.array([[-0.5]]))]
    u8 = tmp_path / "c.mat"
    savemat(u8, {"video": rng.integers(0, 256, (96, 96, 5), dtype=np.uint8),
                 "valence": rng.random((5, 1))})
    inputs.append(str(u8))
    inputs.append(write_seq(tmp_path / "d.mat", rng, 2))
    inputs.append(write_seq(tmp_path / "e.mat", rng, 4))
    v73 = tmp_path / "f.mat"                                 # save -v7.3 (HDF5 MAT-file)
    savemat(v73, {"video": rng.random((96, 96, 5)), "valence": rng.random((1, 5))},
            version="7.3")
    inputs.append(str(v73))
    for i, options in enumerate(({"mode": "single", "mix": True, "mean_sub": True},
                                 {"mode": "multi", "mix": True, "norm": True, "split": 2,
                                  "multi_tail": "zeros"},
                                 {"mode": "multi", "augmentation": True,
                                  "multi_tail": "zeros"})):
        run_both(tmp_path / f"run{i}", inputs, options, chunksz=3, seed=11)


# ---------------------------------------------------------------------------------------------
# prepare_h5_files: train then test from one stream


def ref_prepare(data_dir, out_dir, options, chunk, seed):
    stream = MatlabRandomStream(seed)
    for what, names in (("train", TRAIN), ("test", TEST)):
        ref_generate_h5([os.path.join(data_dir, n + ".mat") for n in names], 96,
                        os.path.join(out_dir, what), chunk, options, stream)


@pytest.fixture(scope="module")
def avec_like(tmp_path_factory):
    d = tmp_path_factory.mktemp("avec")
    rng = np.random.default_rng(3)
    for name in TRAIN + TEST:
        write_seq(d / f"{name}.mat", rng, int(rng.integers(3, 7)))
    return d


@pytest.mark.parametrize("mix,seed", [(False, 0), (True, 0), (True, 42)])
def test_prepare_h5_files(tmp_path, avec_like, mix, seed):
    res = prepare_h5_files(avec_like, tmp_path / "ours", mix=mix, mean_sub=mix, chunk=CHUNK,
                           seed=seed, progress=False)
    options = dataclass_dict({"mix": mix, "mean_sub": mix})
    ref_prepare(str(avec_like), str(tmp_path / "ref"), options, CHUNK, seed)
    assert h5_files(tmp_path / "ours") == h5_files(tmp_path / "ref") == ["test.h5", "train.h5"]
    for name in ("train.h5", "test.h5"):
        assert_same_h5(tmp_path / "ours" / name, tmp_path / "ref" / name)
    assert res["train"].list_file.endswith("train_h5_list.txt")
    assert res["test"].files == [str(tmp_path / "ours" / "test.h5")]


def test_test_file_continues_the_stream(tmp_path, avec_like):
    """The test file is shuffled with the draws after the training file's, not a new rng(0)."""
    prepare_h5_files(avec_like, tmp_path, chunk=CHUNK, progress=False)
    alone = generate_h5([os.path.join(avec_like, n + ".mat") for n in TEST], 96,
                        tmp_path / "alone", CHUNK, None, MatlabRandomStream(0), progress=False)
    with h5py.File(tmp_path / "test.h5", "r") as a, h5py.File(alone.files[0], "r") as b:
        assert not np.array_equal(a["label"][()], b["label"][()])


# ---------------------------------------------------------------------------------------------
# HDF5Data reads the files through the list file


def test_hdf5_source_reads_list(tmp_path, seqs, monkeypatch):
    from caffe_compat.data.hdf5 import HDF5Source

    for mode, kw in (("absolute", {}), ("relative", {"list_paths": "relative"})):
        out = tmp_path / mode
        res = generate_h5(seqs, 96, out / "train", CHUNK,
                          {"mode": "multi", "split": 2, "multi_tail": "zeros"},
                          MatlabRandomStream(0), progress=False, **kw)
        text = open(res.list_file).read().split()
        assert text == (res.files if mode == "absolute" else ["train_1.h5", "train_2.h5"])
        monkeypatch.chdir(tmp_path)                      # not the list file's folder
        src = HDF5Source(res.list_file, ["data", "label"], batch_size=sum(res.samples))
        data, label = src.next_batch()
        want_d, want_l = [], []
        for p in res.files:
            with h5py.File(p, "r") as f:
                want_d.append(f["data"][()])
                want_l.append(f["label"][()])
        # Tolerance 0: the reader returns the stored singles.
        assert np.array_equal(data, np.concatenate(want_d))
        assert np.array_equal(label, np.concatenate(want_l))
        assert data.shape[1:] == (3, 96, 96) and label.shape[1:] == (1,)


# ---------------------------------------------------------------------------------------------
# Bounded memory, atomic outputs


def _peak_bytes(tmp_path, n_files, frames, options):
    rng = np.random.default_rng(n_files)
    d = tmp_path / f"in{n_files}"
    d.mkdir()
    inputs = [write_seq(d / f"s{i}.mat", rng, frames, exact_single=False)
              for i in range(n_files)]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        generate_h5(inputs, 96, tmp_path / f"out{n_files}" / "train", CHUNK, options,
                    MatlabRandomStream(0), progress=False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_frames(tmp_path, monkeypatch):
    """Peak allocations with 8 files equal those with 2 (same file size): one input file and
    fixed buffers, not the data (6 more files add 10.6 MB of double frames). Bound: 1 MB for
    the bookkeeping that is O(count) (labels, sample tables: tens of bytes per frame, about
    20 kB here) and allocator noise."""
    monkeypatch.setattr(importlib.import_module("matlab_ports.generate_h5_job"), "_BLOCK_FRAMES",
                        8)
    options = {"mix": True, "augmentation": True, "mean_sub": True, "norm": True}
    small = _peak_bytes(tmp_path, 2, 24, options)
    large = _peak_bytes(tmp_path, 8, 24, options)
    assert large - small <= 2 ** 20, (small, large)


def test_interrupted_run_leaves_nothing(tmp_path, seqs, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "train_1.h5").write_bytes(b"previous")
    calls = {"n": 0}
    from matlab_ports import hdf5

    real_append = hdf5.MatlabH5Writer.append

    def failing(self, **batches):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_append(self, **batches)

    monkeypatch.setattr(hdf5.MatlabH5Writer, "append", failing)
    options = {"mode": "multi", "split": 2, "multi_tail": "zeros", "mix": True}
    with pytest.raises(KeyboardInterrupt):
        generate_h5(seqs, 96, out / "train", 2, options, MatlabRandomStream(0), progress=False)
    assert sorted(os.listdir(out)) == ["train_1.h5"]
    assert (out / "train_1.h5").read_bytes() == b"previous"
    monkeypatch.setattr(hdf5.MatlabH5Writer, "append", real_append)
    run_both(tmp_path, seqs, options, chunksz=2)
    assert sorted(os.listdir(out)) == ["train_1.h5"]        # the rerun wrote to tmp_path/ours


def test_rerun_replaces_outputs(tmp_path, seqs):
    for seed in (1, 2):
        res = generate_h5(seqs, 96, tmp_path / "t", CHUNK, None, MatlabRandomStream(seed),
                          progress=False)
    ref_generate_h5(seqs, 96, str(tmp_path / "r"), CHUNK, dataclass_dict({}),
                    MatlabRandomStream(2))
    assert_same_h5(res.files[0], tmp_path / "r.h5")
    assert sorted(os.listdir(tmp_path)) == ["r.h5", "t.h5", "t_h5_list.txt"]


# ---------------------------------------------------------------------------------------------
# Exactly rounded sums


def test_exact_sum_is_fsum():
    rng = np.random.default_rng(0)
    cases = [rng.random(100_003) * 255,
             rng.standard_normal(70_000) * 10.0 ** rng.integers(-300, 300, 70_000),
             np.array([1e308, -1e308, 1e308, 5e-324, -5e-324, 2.0 ** -1074, 1.0, -0.0]),
             np.array([2.0 ** 53, 1.0, 1.0, -(2.0 ** 53)]),
             np.concatenate([np.full(1000, 0.1), np.full(1000, -0.1), [1e-20]]),
             np.zeros(5), np.array([-0.0, 0.0])]
    for x in cases:
        # Tolerance 0: both are the exact sum rounded once (to nearest, ties to even).
        assert exact_sum(x) == math.fsum(x.tolist())
        acc = ExactSum()
        for part in np.array_split(rng.permutation(x), 7):
            acc.add(part)
        assert acc.value() == math.fsum(x.tolist())
    acc = ExactSum()
    acc.add(np.array([0.1, 0.7]), times=3)
    assert acc.value() == math.fsum([0.1, 0.7] * 3)
    assert math.isnan(exact_sum(np.array([1.0, np.nan])))
    assert math.isnan(exact_sum(np.array([np.inf, -np.inf])))
    assert exact_sum(np.array([np.inf, 1.0])) == np.inf
    assert exact_sum(np.array([1e308, 1e308])) == np.inf
    # signed zeros as IEEE addition: -0 only when every term is -0
    assert np.signbit(exact_sum(np.array([-0.0, -0.0])))
    assert not np.signbit(exact_sum(np.array([-0.0, 0.0])))
    assert not np.signbit(exact_sum(np.array([1.0, -1.0])))


# ---------------------------------------------------------------------------------------------
# Bad input and the command lines


def test_bad_input(tmp_path, seqs):
    def run(inputs=seqs, size=96, chunksz=CHUNK, options=None):
        return generate_h5(inputs, size, tmp_path / "x" / "t", chunksz, options,
                           MatlabRandomStream(0), progress=False)

    with pytest.raises(PortError, match="options.mode"):
        run(options={"mode": "triple"})
    with pytest.raises(PortError, match="unknown field.*mixlr"):
        run(options={"mixlr": [2]})
    with pytest.raises(PortError, match="options.split"):
        run(options={"mode": "multi", "split": 0})
    with pytest.raises(PortError, match="options.mix_lr"):
        run(options={"mix": True, "mix_lr": []})
    with pytest.raises(PortError, match="options.mix_lr"):
        run(options={"mix": True, "mix_lr": [3, -1]})
    with pytest.raises(PortError, match="chunksz.*one-sample"):
        run(chunksz=1)
    with pytest.raises(PortError, match="chunksz: 29 samples is fewer than chunksz = 30"):
        run(chunksz=30)
    with pytest.raises(PortError, match="per file.*writeh5file"):
        run(chunksz=10, options={"mode": "multi", "split": 3, "multi_tail": "zeros"})
    with pytest.raises(PortError, match="inputs: expected at least one"):
        run(inputs=[])
    with pytest.raises(PortFileError, match="nothing.mat: input 2 not found"):
        run(inputs=[seqs[0], tmp_path / "nothing.mat"])
    with pytest.raises(PortFileError, match="'video' is 96x96x7; expected 64x64xN"):
        run(size=64)
    with pytest.raises(PortError, match="hard-coded"):
        run(size=64, options={"mix": True})
    novalence = tmp_path / "nv.mat"
    savemat(novalence, {"video": np.zeros((96, 96, 3))})
    with pytest.raises(PortFileError, match="nv.mat: no variable 'valence'"):
        run(inputs=[novalence], chunksz=2)
    badval = tmp_path / "bv.mat"
    savemat(badval, {"video": np.zeros((96, 96, 3)), "valence": np.zeros((1, 2))})
    with pytest.raises(PortFileError, match="bv.mat: 'valence' has 2 values for 3 frames"):
        run(inputs=[badval], chunksz=2)
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"junk" * 64)
    with pytest.raises(PortFileError, match="junk.mat"):
        run(inputs=[junk], chunksz=2)
    # nothing was left behind by any of these
    assert not os.path.exists(tmp_path / "x") or os.listdir(tmp_path / "x") == []
    with pytest.raises(PortError, match="data_dir"):
        prepare_h5_files(tmp_path / "nowhere", tmp_path / "o", progress=False)
    with pytest.raises(PortError, match="missing, first .*train_1.mat"):
        prepare_h5_files(tmp_path, tmp_path / "o", progress=False)


def test_cli(tmp_path, seqs, capsys):
    rc = gh5.main(seqs + ["--save", str(tmp_path / "c" / "train"), "--chunk", "4", "--mix",
                          "--mix-lr", "2,3", "--seed", "9", "--quiet", "--relative-list"])
    out = capsys.readouterr().out
    assert rc == 0 and f"wrote {tmp_path / 'c' / 'train.h5'}: 28 samples" in out
    assert "train_h5_list.txt: 1 file(s)" in out
    assert open(tmp_path / "c" / "train_h5_list.txt").read() == "train.h5\n"
    ref_generate_h5(seqs, 96, str(tmp_path / "r"), 4,
                    dataclass_dict({"mix": True, "mix_lr": (2, 3)}), MatlabRandomStream(9))
    assert_same_h5(tmp_path / "c" / "train.h5", tmp_path / "r.h5")

    rc = gh5.main(seqs + ["--save", str(tmp_path / "m"), "--mode", "multi", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error: options.mode 'multi': generate_h5.m cannot")
    rc = gh5.main(seqs + ["--save", str(tmp_path / "m"), "--mix-lr", "3,x", "--quiet"])
    assert rc == 1 and "--mix-lr" in capsys.readouterr().err


def test_prepare_cli(tmp_path, avec_like, capsys):
    from matlab_ports import prepare_h5_files as ph5

    rc = ph5.main(["--data", str(avec_like), "--out", str(tmp_path), "--chunk", "4",
                   "--augmentation", "--norm", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    for name in ("train.h5", "test.h5", "train_h5_list.txt", "test_h5_list.txt"):
        assert str(tmp_path / name) in out
    ref_prepare(str(avec_like), str(tmp_path / "ref"),
                dataclass_dict({"augmentation": True, "norm": True}), 4, 0)
    for name in ("train.h5", "test.h5"):
        assert_same_h5(tmp_path / name, tmp_path / "ref" / name)
    rc = ph5.main(["--data", str(avec_like), "--out", str(tmp_path), "--train", "nope",
                   "--quiet"])
    assert rc == 1 and "nope.mat" in capsys.readouterr().err
    rc = ph5.main(["--data", str(avec_like), "--out", str(tmp_path), "--chunk", "1",
                   "--quiet"])
    assert rc == 1 and "chunksz" in capsys.readouterr().err
