"""Caffe's key-value databases (src/caffe/util/db_lmdb.cpp, db_leveldb.cpp) through py-lmdb
and plyvel.

Reading (:func:`open_db`) follows Caffe's cursor: records in key order (bytewise, the default
comparator of both), from the first; after the last the cursor goes back to the first
(DataLayer::Next). Memory stays bounded whatever the database size: LevelDB reads through its
block cache, and an LMDB map is reopened every :data:`LMDB_REMAP_BYTES` read (pages of a
memory map count in the process's RSS until it is unmapped).

Writing (:func:`create_db`) is convert_imageset's: LMDB (committed every 1000 records, the map
doubled when full, as LMDBTransaction does) or LevelDB (Caffe's options: 64 KiB blocks, a 256
MiB write buffer, 100 open files). The database is built in a temporary folder beside the
target and renamed into place when complete, so an interrupted run leaves no database (Caffe
itself refuses an existing target: so do we).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from ..errors import DataError

# an LMDB reader unmaps and remaps after this many bytes of values
LMDB_REMAP_BYTES = 64 << 20
BACKENDS = ("lmdb", "leveldb")
_INSTALL_HINT = "install it with: pip install 'robust-lq-emotion[data]'"


def _import(name, purpose):
    try:
        return __import__(name)
    except ImportError:
        pip = {"lmdb": "lmdb (py-lmdb)", "plyvel": "plyvel"}[name]
        raise DataError(f"{purpose} needs the Python package {pip}; {_INSTALL_HINT}") from None


def backend_name(backend):
    """'lmdb' or 'leveldb' from a DataParameter.DB value, a name in any case, or None."""
    if isinstance(backend, int):
        return {0: "leveldb", 1: "lmdb"}.get(backend) or _bad_backend(backend)
    name = str(backend).lower()
    return name if name in BACKENDS else _bad_backend(backend)


def _bad_backend(backend):
    raise DataError(f"unknown database backend '{backend}' (Caffe knows lmdb and leveldb)")


def guess_backend(path):
    """'lmdb' / 'leveldb' from the files in ``path``, or None."""
    if os.path.isfile(os.path.join(path, "data.mdb")):
        return "lmdb"
    if os.path.isfile(os.path.join(path, "CURRENT")):
        return "leveldb"
    return None


def _check_source(path, backend, where):
    if not os.path.exists(path):
        raise DataError(f"{where}: {backend} database '{path}' does not exist (relative paths "
                        f"are resolved against the working directory {os.getcwd()})")
    if not os.path.isdir(path):
        raise DataError(f"{where}: {backend} database '{path}' is a file; Caffe's LMDB and "
                        "LevelDB databases are folders")
    found = guess_backend(path)
    if found is None:
        raise DataError(f"{where}: '{path}' holds no {backend} database (no data.mdb or "
                        "CURRENT file in the folder)")
    if found != backend:
        raise DataError(f"{where}: '{path}' is a {found} database but the backend is "
                        f"{backend}; set data_param {{ backend: {found.upper()} }} (Caffe's "
                        "default backend is LEVELDB)")


class LMDBReader:
    """Caffe's LMDBCursor over ``path``, reopened every LMDB_REMAP_BYTES."""

    backend = "lmdb"

    def __init__(self, path, where=""):
        self.lmdb = _import("lmdb", "an LMDB database")
        self.path = os.fspath(path)
        self.where = where or self.path
        _check_source(self.path, "lmdb", self.where)
        self._env = self._txn = None
        self._open()

    def _open(self):
        try:
            self._env = self.lmdb.open(self.path, readonly=True, lock=False, readahead=False,
                                       subdir=True, max_readers=1)
            self._txn = self._env.begin(buffers=False)
        except self.lmdb.Error as e:
            self.close()
            raise DataError(f"{self.where}: cannot open LMDB '{self.path}': {e}") from None

    def close(self):
        if self._txn is not None:
            with contextlib.suppress(Exception):
                self._txn.abort()
        if self._env is not None:
            with contextlib.suppress(Exception):
                self._env.close()
        self._env = self._txn = None

    def __len__(self):
        return int(self._env.stat()["entries"])

    def first(self):
        """(key, value) of the first record, or None for an empty database."""
        with self._txn.cursor() as cur:
            if not cur.first():
                return None
            return cur.key(), cur.value()

    def records(self):
        """(key, value) in key order forever (wrapping at the end; nothing when empty)."""
        last_key, read = None, 0
        while True:
            cur = self._txn.cursor()
            try:
                ok = cur.set_range(last_key) if last_key is not None else cur.first()
                if ok and last_key is not None and cur.key() == last_key:
                    ok = cur.next()
                if not ok:
                    if last_key is None:
                        return                      # empty
                    last_key = None                 # wrap: Caffe's SeekToFirst
                    continue
                while ok:
                    key, value = cur.key(), cur.value()
                    yield key, value
                    read += len(value)
                    last_key = key
                    if read >= LMDB_REMAP_BYTES:
                        break
                    ok = cur.next()
                if not ok:
                    last_key = None
            except self.lmdb.Error as e:
                raise DataError(f"{self.where}: cannot read LMDB '{self.path}': {e}") from None
            finally:
                cur.close()
            if read >= LMDB_REMAP_BYTES:
                read = 0
                self.close()
                self._open()


class LevelDBReader:
    """Caffe's LevelDBCursor over ``path`` (a snapshot iterator, re-made at each wrap)."""

    backend = "leveldb"

    def __init__(self, path, where=""):
        self.plyvel = _import("plyvel", "a LevelDB database")
        self.path = os.fspath(path)
        self.where = where or self.path
        _check_source(self.path, "leveldb", self.where)
        try:
            self._db = self.plyvel.DB(self.path, create_if_missing=False, max_open_files=100)
        except Exception as e:  # noqa: BLE001 - plyvel.Error, IOError (lock held)
            raise DataError(f"{self.where}: cannot open LevelDB '{self.path}': {e} (a LevelDB "
                            "can be open in one process at a time)") from None

    def close(self):
        if getattr(self, "_db", None) is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def __len__(self):
        return sum(1 for _ in self._db.iterator(include_value=False))

    def first(self):
        with self._db.iterator() as it:
            for key, value in it:
                return key, value
        return None

    def records(self):
        while True:
            n = 0
            try:
                with self._db.iterator(fill_cache=False) as it:
                    for key, value in it:
                        n += 1
                        yield key, value
            except self.plyvel.Error as e:
                raise DataError(f"{self.where}: cannot read LevelDB '{self.path}': {e}") \
                    from None
            if n == 0:
                return


def open_db(path, backend, where=""):
    """A reader (``first()``, ``records()``, ``close()``) for the database at ``path``."""
    backend = backend_name(backend)
    cls = LMDBReader if backend == "lmdb" else LevelDBReader
    return cls(path, where)


# ------------------------------------------------------------------------------------- writing
class _LMDBWriter:
    def __init__(self, path):
        self.lmdb = _import("lmdb", "writing an LMDB database")
        self.map_size = 64 << 20
        self.env = self.lmdb.open(path, map_size=self.map_size, subdir=True)
        self.pending = []

    def put(self, key, value):
        self.pending.append((key, value))

    def commit(self):
        """LMDBTransaction::Commit: one write transaction; double the map when full."""
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for k, v in self.pending:
                        txn.put(k, v)
                break
            except self.lmdb.MapFullError:
                self.map_size *= 2
                self.env.set_mapsize(self.map_size)
        self.pending = []

    def close(self):
        self.env.close()


class _LevelDBWriter:
    def __init__(self, path):
        self.plyvel = _import("plyvel", "writing a LevelDB database")
        self.db = self.plyvel.DB(path, create_if_missing=True, error_if_exists=True,
                                 block_size=65536, write_buffer_size=268435456,
                                 max_open_files=100)
        self.batch = self.db.write_batch()

    def put(self, key, value):
        self.batch.put(key, value)

    def commit(self):
        self.batch.write()
        self.batch = self.db.write_batch()

    def close(self):
        self.db.close()


@contextlib.contextmanager
def create_db(path, backend):
    """A writer (``put(key, value)``, ``commit()``) for a NEW database at ``path``, built in a
    temporary folder and renamed onto ``path`` when the block ends without error."""
    backend = backend_name(backend)
    path = os.fspath(path)
    if os.path.lexists(path):
        raise DataError(f"'{path}' already exists; Caffe creates a new {backend} database and "
                        "refuses an existing path (remove it or choose another name)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise DataError(f"'{path}': the folder '{parent}' does not exist")
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".tmp-", dir=parent)
    writer = None
    try:
        if backend == "lmdb":
            writer = _LMDBWriter(tmp)
        else:
            os.rmdir(tmp)                     # LevelDB creates its own folder
            writer = _LevelDBWriter(tmp)
        yield writer
        writer.commit()
        writer.close()
        writer = None
        os.chmod(tmp, 0o777 & ~_umask())
        os.rename(tmp, path)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
