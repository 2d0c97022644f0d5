"""Caffe's HDF5DataLayer iteration, streamed from disk (a small file held in memory).

The source is a list file naming ``.h5`` files (whitespace-separated, read as Caffe's ``>>``;
paths relative to the working directory, as Caffe opens them, falling back to the list file's
folder). Each top reads the dataset of its own name; a file's rows are served in order (or
shuffled with ``shuffle``), then the next file, and after the last the first again. Caffe
loads every file whole; here a file whose tops take at most :data:`MEMORY_BYTES` as float32
is held in memory on its first read, and a larger file is read batch by batch (contiguous
slices when not shuffled), so training data can be larger than RAM. ``state_dict`` /
``load_state_dict`` capture the read position (Caffe's solverstate does not), so a resumed
run continues with the same rows.

``shuffle`` is Caffe's, draw for draw: ``std::random_shuffle`` on the process's C library
``rand()`` (:func:`caffe_compat.data.caffe_random.libc_shuffle`), of the file order at set-up
and each time the last file is passed, and of a file's rows when it is loaded and again when
its last row is passed (HDF5DataLayer's ``LoadHDF5FileData`` and ``Next``); the solver's
``random_seed`` plays no part, as in Caffe."""
from __future__ import annotations

import os
import re

import numpy as np

from ..errors import DataError
from .caffe_random import LIBC_RAND, libc_shuffle

# a file whose tops take at most this many bytes (as float32) is read whole on its first read
MEMORY_BYTES = 4 << 20


def damaged_chunks(ds):
    """A description of the first impossible entry in the chunk index of dataset ``ds``, or
    None. libhdf5 (2.0) reads past its buffers on such entries (a stored chunk of 0 bytes, or
    fewer than the 4-byte Fletcher-32 checksum) and crashes the process, so readers check
    before reading. Cheap: one pass over the index, no data read."""
    if ds.chunks is None or not hasattr(ds.id, "chunk_iter"):
        return None
    least = 4 if ds.fletcher32 else 1
    found = []

    def visit(info):
        if not found and info.size < least:
            found.append(f"chunk at {tuple(info.chunk_offset)} is stored in {info.size} bytes")

    ds.id.chunk_iter(visit)
    return found[0] if found else None


# a word as C++'s ``>>`` reads it in the C locale: bytes between ASCII white space (HDF5 and
# window lists: a name may hold other bytes, a no-break space or Latin-1)
CPP_WORD = re.compile("[^ \t\n\v\f\r]+")


def read_source_list(path):
    """The ``.h5`` paths named by list file ``path``, resolved as Caffe would (see module doc)."""
    path = os.fspath(path)
    try:
        with open(path, "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise DataError(f"HDF5 source list '{path}' does not exist (relative paths are resolved "
                        f"against the working directory {os.getcwd()})") from None
    except OSError as e:
        raise DataError(f"HDF5 source list '{path}' cannot be read: {e}") from None
    out = []
    folder = os.path.dirname(os.path.abspath(path))
    for lineno, line in enumerate(text.split("\n"), 1):
        for token in CPP_WORD.findall(line):
            if os.path.exists(token):
                out.append(token)
            elif not os.path.isabs(token) and os.path.exists(os.path.join(folder, token)):
                out.append(os.path.join(folder, token))
            else:
                raise DataError(f"{path}:{lineno}: HDF5 file '{token}' does not exist")
    if not out:
        raise DataError(f"HDF5 source list '{path}' names no files")
    return out


class HDF5Source:
    """Batches of the datasets ``tops`` from the files of ``list_path``, in Caffe's order."""

    def __init__(self, list_path, tops, batch_size, shuffle=False, where="", shard=(0, 1)):
        self.where = where or os.fspath(list_path)
        self.list_path = os.fspath(list_path)
        self.files = read_source_list(list_path)
        self.tops = list(tops)
        if batch_size <= 0:
            raise DataError(f"{self.where}: batch_size must be positive, got {batch_size}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        # data-parallel training (Caffe's Skip): of each N x batch_size rows of the stream,
        # rank r keeps rows r, r + N, ... (record k to rank k mod N)
        self.rank, self.count = (int(shard[0]), int(shard[1]))
        self.shapes = self.dtypes = self._handle = None
        self.file_perm = np.arange(len(self.files))
        if self.shuffle:                    # (HDF5DataLayer::LayerSetUp)
            self.file_perm = _shuffled(self.file_perm)
        self.reset()
        self.row_shapes = self.shapes

    # -------------------------------------------------------------- files
    def _open(self, index):
        self.close()
        name = self.files[index]
        import h5py    # on first use: importing h5py costs ~0.2 s (nets without HDF5 layers)
        try:
            handle = h5py.File(name, "r")
        except Exception as e:  # noqa: BLE001 - a damaged file fails with OSError and others
            raise DataError(f"{self.where}: cannot open HDF5 file '{name}': {e}") from None
        try:
            rows, shapes = self._check(handle, name)
            datasets = [handle[t] for t in self.tops]
        except DataError:
            handle.close()
            raise
        except Exception as e:  # noqa: BLE001 - damaged metadata: KeyError, RuntimeError, ...
            handle.close()
            raise DataError(f"{self.where}: HDF5 file '{name}' is damaged or unreadable "
                            f"({type(e).__name__}: {e})") from None
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        self._opened = index
        self._datasets = datasets
        # the tops of a small file as float32 arrays, read on the first read of the file
        self._in_memory = None
        self._fits_memory = sum(4 * rows * int(np.prod(s, dtype=np.int64)) for s in shapes) \
            <= MEMORY_BYTES
        self.rows = rows
        self.current_row = 0
        # the row order: Caffe's permutation when shuffling (8 bytes a row), else the identity
        # as a range, which costs nothing whatever row count a (damaged) file claims
        self.data_perm = _shuffled(np.arange(rows)) if self.shuffle else range(rows)

    def _check(self, handle, name):
        """Row count and per-row shapes of the tops' datasets in ``handle`` (Caffe's checks:
        every top present, numeric, at least one axis, equal row counts; and, beyond Caffe,
        the same row shapes in every file)."""
        import h5py
        rows, shapes = None, []
        for top in self.tops:
            try:
                ds = handle[top] if top in handle else None
            except (KeyError, ValueError):         # a dangling soft or external link
                ds = None
            if ds is None:
                present = ", ".join(sorted(handle.keys())) or "nothing"
                raise DataError(f"{self.where}: HDF5 file '{name}' has no dataset '{top}' "
                                f"(it has: {present})")
            if not isinstance(ds, h5py.Dataset):
                raise DataError(f"{self.where}: '{top}' in HDF5 file '{name}' is not a dataset")
            if ds.dtype.kind not in "fiu" or ds.ndim < 1:
                raise DataError(f"{self.where}: dataset '{top}' in '{name}' must be a numeric "
                                f"array with at least one axis, got {ds.dtype} {ds.shape}")
            damage = damaged_chunks(ds)
            if damage:
                raise DataError(f"{self.where}: dataset '{top}' in HDF5 file '{name}' is "
                                f"damaged: {damage}")
            if rows is None:
                rows = ds.shape[0]
            elif ds.shape[0] != rows:
                raise DataError(f"{self.where}: datasets of '{name}' disagree in row count: "
                                f"'{self.tops[0]}' has {rows}, '{top}' has {ds.shape[0]}")
            shapes.append(tuple(ds.shape[1:]))
        if rows == 0:
            raise DataError(f"{self.where}: HDF5 file '{name}' has no rows")
        if rows > 2**31 - 1:   # Caffe's row index is an int
            raise DataError(f"{self.where}: HDF5 file '{name}' claims {rows} rows, more than "
                            "Caffe can index (a damaged file?)")
        if self.shapes is None:
            self.shapes = shapes
        elif shapes != self.shapes:
            raise DataError(f"{self.where}: HDF5 file '{name}' has row shapes {shapes}, the "
                            f"first file had {self.shapes}")
        return rows, shapes

    def _advance_file(self):
        """HDF5DataLayer::Next at a file's last row: the next file (loaded: its rows
        shuffled), the file order shuffled again after the last file; then the rows shuffled
        (again), as Caffe does for one file or many."""
        if len(self.files) > 1:
            self.current_file += 1
            if self.current_file == len(self.files):
                self.current_file = 0
                if self.shuffle:
                    self.file_perm = _shuffled(self.file_perm)
            self._open(self.file_perm[self.current_file])
        if self.shuffle:
            self.data_perm = _shuffled(self.data_perm)
        self.current_row = 0

    # -------------------------------------------------------------- reading
    def _read(self, rows):
        """Rows ``rows`` (indices into the open file) of every dataset, in that order."""
        try:
            return self._read_rows(rows)
        except Exception as e:  # noqa: BLE001 - damaged data: OSError (checksum, filter), ...
            name = self.files[self.file_perm[self.current_file]]
            raise DataError(f"{self.where}: cannot read rows of HDF5 file '{name}' "
                            f"({type(e).__name__}: {e})") from None

    def _read_rows(self, rows):
        if self._fits_memory:
            if self._in_memory is None:
                self._in_memory = [np.asarray(ds[()], dtype=np.float32)
                                   for ds in self._datasets]
            if isinstance(rows, range):      # the rows in file order: a slice, copied
                return [a[rows.start:rows.stop].copy() for a in self._in_memory]
            return [a[rows] for a in self._in_memory]   # a copy in the order of ``rows``
        out = []
        contiguous = isinstance(rows, range) or len(rows) == 0 or \
            bool(np.all(np.diff(rows) == 1))
        for ds in self._datasets:
            if contiguous:
                block = ds[int(rows[0]):int(rows[-1]) + 1] if len(rows) else ds[0:0]
            else:
                order = np.argsort(rows, kind="stable")
                uniq, inverse = np.unique(rows[order], return_inverse=True)
                got = ds[uniq.tolist()]
                block = np.empty((len(rows),) + got.shape[1:], dtype=got.dtype)
                block[order] = got[inverse]
            out.append(np.asarray(block, dtype=np.float32))
        return out

    def next_batch(self):
        """The next ``batch_size`` rows of every top (float32 arrays), wrapping as Caffe does."""
        start = self.current_row
        stop = start + self.batch_size
        if self._in_memory is not None and self.count == 1 and stop < self.rows and \
                not self.shuffle:
            # the common case, what the loop below does for it: the next rows of a file held
            # in memory, in file order, without reaching the file's end
            self.current_row = stop
            return [a[start:stop].copy() for a in self._in_memory]
        parts = [[] for _ in self.tops]
        need = self.batch_size * self.count
        while need:
            take = min(need, self.rows - self.current_row)
            # a range when not shuffling, else an array of row indices
            rows = self.data_perm[self.current_row:self.current_row + take]
            for acc, block in zip(parts, self._read(rows)):
                acc.append(block)
            self.current_row += take
            need -= take
            if self.current_row == self.rows:
                self._advance_file()
        out = [np.concatenate(p, axis=0) if len(p) > 1 else p[0] for p in parts]
        if self.count > 1:
            out = [np.ascontiguousarray(a[self.rank::self.count]) for a in out]
        return out

    # -------------------------------------------------------------- position
    def state_dict(self):
        """Everything needed to continue reading at exactly this position (JSON-able).

        Row permutations are stored only when shuffling (otherwise they are the identity)."""
        state = {"files": list(self.files), "current_file": int(self.current_file),
                 "current_row": int(self.current_row), "shuffle": self.shuffle,
                 "libc_rand": LIBC_RAND.state()}
        if self.shuffle:
            state["file_perm"] = self.file_perm.tolist()
            state["data_perm"] = self.data_perm.tolist()
        return state

    def load_state_dict(self, state):
        if list(state.get("files", self.files)) != list(self.files):
            raise DataError(f"{self.where}: saved read position belongs to other files "
                            f"({state.get('files')})")
        if "file_perm" in state:
            file_perm = np.asarray(state["file_perm"], dtype=np.int64)
        else:
            file_perm = np.arange(len(self.files))
        if sorted(file_perm.tolist()) != list(range(len(self.files))):
            raise DataError(f"{self.where}: saved file order {file_perm.tolist()} is not a "
                            f"permutation of the {len(self.files)} files")
        current_file = int(state["current_file"])
        if not 0 <= current_file < len(self.files):
            raise DataError(f"{self.where}: saved file index {current_file} is out of range")
        self.file_perm = file_perm
        self.current_file = current_file
        self._open(self.file_perm[self.current_file])
        name = self.files[self.file_perm[self.current_file]]
        if "data_perm" in state:
            data_perm = np.asarray(state["data_perm"], dtype=np.int64)
            if len(data_perm) != self.rows:
                raise DataError(f"{self.where}: saved row order has {len(data_perm)} rows, "
                                f"'{name}' has {self.rows}")
            if not np.array_equal(np.sort(data_perm), np.arange(self.rows)):
                raise DataError(f"{self.where}: saved row order is not a permutation of the "
                                f"{self.rows} rows of '{name}'")
            self.data_perm = data_perm
        else:
            self.data_perm = range(self.rows)
        current_row = int(state["current_row"])
        if not 0 <= current_row < self.rows:
            raise DataError(f"{self.where}: saved row {current_row} is out of range for "
                            f"'{name}' ({self.rows} rows)")
        self.current_row = current_row
        if "libc_rand" in state:            # (a sidecar of before Caffe's shuffle: none)
            try:
                LIBC_RAND.set_state(state["libc_rand"])
            except (TypeError, ValueError) as e:
                raise DataError(f"{self.where}: saved rand() state: {e}") from None

    def reset(self):
        """Back to the first row of the first file (Caffe's position in a new process); the
        first file is loaded (its rows shuffled) unless it is the one open."""
        if self._handle is None or self._opened != self.file_perm[0]:
            self._open(self.file_perm[0])
        self.current_file = 0
        self.current_row = 0

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _shuffled(perm):
    """``perm`` (int array) after Caffe's ``std::random_shuffle`` on the process's rand()."""
    return np.asarray(libc_shuffle(list(perm)), dtype=np.int64)
