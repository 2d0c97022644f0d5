"""A Data layer's batches (Caffe 1.0's DataLayer::load_batch): Datum records in key order, each
decoded and passed through the DataTransformer into one float32 batch, with its labels; run by
a prefetch thread. Shared by the torch engine's Data layer and the array engine's."""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .images import parse_datum


def key_text(key):
    """A record's key as text for messages."""
    return bytes(key).decode("utf-8", errors="replace")


class DatumBatches:
    """The prefetch thread's work: records in key order -> transformed batches."""

    def __init__(self, db, transformer, batch_size, where, shard=(0, 1)):
        self.db, self.transformer = db, transformer
        self.batch_size, self.where = batch_size, where
        self.rank, self.count = shard

    def _records(self):
        """The records of this rank (Caffe's Skip(): record k to rank k mod N)."""
        for offset, record in enumerate(self.db.records()):
            if offset % self.count == self.rank:     # Caffe's Skip()
                yield record

    def batches(self):
        records = self._records()
        tf = self.transformer
        while True:
            data = labels = None
            for i in range(self.batch_size):
                try:
                    key, value = next(records)
                except StopIteration:
                    raise DataError(f"{self.where}: the database has no records") from None
                where = f"{self.where}: record '{key_text(key)}'"
                datum = parse_datum(value, where)
                pixels = tf.datum_pixels(datum, where)
                if i == 0:   # the batch takes the shape of its first Datum
                    shape = tf.output_shape(pixels.shape)
                    data = np.empty((self.batch_size,) + shape, dtype=np.float32)
                    labels = np.empty((self.batch_size,), dtype=np.float32)
                tf.transform_chw(pixels, data[i], where)
                labels[i] = datum.label
            yield data, labels

    def close(self):
        self.db.close()
