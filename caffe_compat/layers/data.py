"""Data: batches of Datum records from an LMDB or LevelDB (Caffe 1.0's DataLayer).

As Caffe: the database cursor starts at the first key and reads in key order, wrapping to the
first record after the last; each record is a Datum (raw uint8 ``data``, ``float_data``, or
an encoded image decoded with OpenCV) passed through the DataTransformer
(``transform_param``: crop, mirror, mean, scale) with Caffe's random draws; ``top[1]`` is the
Datum's label. The batch shape comes from the first Datum of each batch. Reading runs in a
background thread with ``data_param.prefetch`` batches queued (Caffe's default 4).

``data_param.rand_skip`` is accepted and, as in Caffe 1.0 (whose DataLayer no longer reads
it), has no effect; ``force_encoded_color`` likewise. The source may be overridden with the
net's ``data_sources`` (by layer name or by the configured path).
"""
from __future__ import annotations

from ..parallel import data_parallel as parallel
from ..data import db as db_io
from ..data.datum_batches import DatumBatches, key_text as _key_text
from ..data.images import parse_datum
from ..errors import DataError
from ._prefetching import PrefetchingDataLayer
from .registry import register_layer
from ..rules.fields import declare

_NOT_READ = "Caffe 1.0's DataLayer does not read it (a V1 net's value moves to transform_param)"
declare("torch", "Data", "DataParameter", {"source", "batch_size", "backend"},
        no_effect={"prefetch": "the depth of the prefetch queue; the batches are the same",
                   **dict.fromkeys(("rand_skip", "force_encoded_color", "scale", "mean_file",
                                    "crop_size", "mirror"), _NOT_READ)})


@register_layer("Data")
class Data(PrefetchingDataLayer):
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST", sources=None, caffe_rng=None):
        super().__init__(param, bottom_shapes, phase, sources, caffe_rng)
        dp = param.data_param
        self.source = source = self.source_path(dp.source)
        backend = db_io.backend_name(dp.backend)
        self.where = f"layer '{self.name}' (type Data, {backend} source '{source}')"
        if not source:
            self.fail("data_param.source is empty")
        self.batch_size = int(dp.batch_size)
        if self.batch_size <= 0:
            self.fail("data_param.batch_size must be positive")
        self.prefetch_depth = int(dp.prefetch) if dp.prefetch else 1
        # Caffe opens the database in the constructor and reads the first Datum in
        # DataLayerSetUp (after the transformer's first InitRand).
        self.db = self.hold(db_io.open_db(source, backend, self.where))
        try:
            self._set_up(param)
        except BaseException:
            self.close()        # an error's traceback may keep the layer: not the database
            raise

    def _set_up(self, param):
        self.transformer, _ = self.make_transformer(param.transform_param, where=self.where)
        first = self.db.first()
        if first is None:
            raise DataError(f"{self.where}: the database has no records")
        key, value = first
        datum = parse_datum(value, f"{self.where}: record '{_key_text(key)}'")
        pixels = self.transformer.datum_pixels(datum, f"{self.where}: record "
                                                      f"'{_key_text(key)}'")
        self.item_shape = self.transformer.output_shape(pixels.shape)
        self._check_mean(pixels.shape, key)

    def _check_mean(self, shape, key):
        mean = self.transformer.mean
        if mean is not None and mean.shape != tuple(shape):
            raise DataError(f"{self.where}: mean_file '{self.transformer.mean_file}' is "
                            f"{' x '.join(map(str, mean.shape))} (channels x height x width) but "
                            f"the Datum of record '{_key_text(key)}' is "
                            f"{' x '.join(map(str, shape))}; the mean must have the stored "
                            "images' size (before crop_size)")

    def top_shapes(self, bottom_shapes):
        shapes = [(self.batch_size,) + tuple(self.item_shape)]
        if self.output_labels:
            shapes.append((self.batch_size,))
        return shapes

    def batch_source(self):
        return DatumBatches(self.db, self.transformer, self.batch_size, self.where,
                            parallel.shard(self.phase))
