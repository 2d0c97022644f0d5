"""Data: batches of Datum records from an LMDB or LevelDB (Caffe 1.0's DataLayer), read in key
order by a prefetch thread (``data_param.prefetch`` batches ahead) through the DataTransformer
(:mod:`caffe_compat.data.datum_batches`, the batches the torch engine's Data layer makes). The
database is opened and its first Datum read while the net is built (the tops' shapes); the
transformer's seeds are drawn from the net's Caffe stream in layer order, with the fillers
(:meth:`realize`). The thread and the database are released with the layer (``close()``, or
when it goes), as Caffe's destructors release them."""
import functools
import weakref

from ...data import db as db_io
from ...data.caffe_random import data_layer_setup_draws
from ...data.datum_batches import DatumBatches
from ...data.images import parse_datum
from ...data.prefetch import HeldReaders, Prefetcher, guarded_batches
from ...data.transformer import DataTransformer
from ...errors import DataError
from ...rules.fields import declare
from ..registry import register
from .base import NoDiffLayer, need

_NOT_READ = "Caffe 1.0's DataLayer does not read it (a V1 net's value moves to transform_param)"
declare("array", "Data", "DataParameter", {"source", "batch_size", "backend"},
        no_effect={"prefetch": "the depth of the prefetch queue; the batches are the same",
                   **dict.fromkeys(("rand_skip", "force_encoded_color", "scale", "mean_file",
                                    "crop_size", "mirror"), _NOT_READ)})


@register("Data")
class Data(NoDiffLayer):
    is_data = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        dp = param.data_param
        need(not bottom_shapes and len(param.top) in (1, 2), "Data tops")
        need(dp.source and dp.batch_size > 0, "Data source and batch size")
        self.batch_size = int(dp.batch_size)
        self.depth = int(dp.prefetch) if dp.prefetch else 1
        self.tp = param.transform_param
        backend = db_io.backend_name(dp.backend)
        self.where = f"layer '{self.name}' (type Data, {backend} source '{dp.source}')"
        self._held = HeldReaders()
        weakref.finalize(self, self._held.close)
        try:
            self.db = db_io.open_db(dp.source, backend, self.where)
            self._held.closers.append(self.db.close)
            first = self.db.first()
            need(first is not None, "an empty database")
            probe = DataTransformer(self.tp, phase, None, self.where)
            pixels = probe.datum_pixels(parse_datum(first[1], self.where), self.where)
            need(probe.mean is None or probe.mean.shape == tuple(pixels.shape),
                 "a mean of another shape")
            self.item_shape = tuple(probe.output_shape(pixels.shape))
        except BaseException:
            self._held.close()
            raise
        self.transformer = None

    def realize(self, rng):
        """The transformer, its seeds drawn from ``rng`` (the net's Caffe stream) in Caffe's
        order (DataLayerSetUp's draws, then the prefetch thread's seed)."""
        needs = DataTransformer.needs_rand(self.tp, self.phase)
        trng, _ = data_layer_setup_draws(rng, transformer_needs_rand=needs)
        self.transformer = DataTransformer(self.tp, self.phase, trng, self.where)

    def top_shapes(self, bottom_shapes):
        shapes = [(self.batch_size,) + self.item_shape]
        return shapes + [(self.batch_size,)] if len(self.param.top) > 1 else shapes

    def produce(self):
        """The next (data, labels) batch, in Caffe's order."""
        held = self._held
        if held.prefetcher is None:
            held.source = DatumBatches(self.db, self.transformer, self.batch_size, self.where)
            label = f"layer '{self.name}' (type Data)"
            held.prefetcher = Prefetcher(functools.partial(guarded_batches, held.source, label),
                                         self.depth, name=f"Data '{self.name}' prefetch")
        try:
            data, labels = held.prefetcher.next()
        except StopIteration:
            raise DataError(f"layer '{self.name}': the data source is exhausted") from None
        return [data, labels][:len(self.param.top)]

    def close(self):
        self._held.close()
