"""``caffe-compat compute_image_mean [--backend lmdb|leveldb] INPUT_DB [OUTPUT_FILE]``
(tools/compute_image_mean.cpp): the mean image of a Datum database as a BlobProto.

As Caffe: every record is read in key order (encoded ones decoded with the file's own
channels, DecodeDatumNative); values are summed in float32 in record order (``sum + pixel``
rounded to float at each step) and divided by the record count in float32; the BlobProto has
num 1, the first Datum's channels, height and width, and the means in ``data``. The per-channel
mean values are logged as Caffe logs them.
"""
from __future__ import annotations

import numpy as np

from ..cli.registry import caffe_flag as _flag
from ..cli.registry import register_command
from ..data import db as db_io
from ..data.datum_batches import key_text
from ..data.images import datum_array, parse_datum
from ..errors import DataError
from ..io.atomic import write_bytes_atomic
from ..io.caffemodel import packed_field
from ..proto import caffe_pb2
from ..cli._log import log, progress_bar


def add_arguments(p):
    _flag(p, "backend", default="lmdb", help="the backend {leveldb, lmdb} containing the "
          "images")
    p.add_argument("input_db", help="INPUT_DB")
    p.add_argument("output_file", nargs="?", default=None, help="OUTPUT_FILE (.binaryproto)")


def mean_blob(sum_values, count, shape):
    """The BlobProto compute_image_mean writes: num, channels, height, width, then data."""
    blob = caffe_pb2.BlobProto()
    blob.num = 1
    blob.channels, blob.height, blob.width = (int(s) for s in shape)
    mean = (sum_values / np.float32(count)).astype(np.float32)
    number = caffe_pb2.BlobProto.DESCRIPTOR.fields_by_name["data"].number
    if mean.size:
        blob.MergeFromString(packed_field(number, mean.astype("<f4").tobytes()))
    return blob, mean


def compute_image_mean(input_db, output_file=None, backend="lmdb", progress=None):
    """The mean (float32, C x H x W) of the database; written to ``output_file`` if given."""
    reader = db_io.open_db(input_db, backend, where="compute_image_mean")
    try:
        total = len(reader) if reader.backend == "lmdb" else None
        first = reader.first()
        if first is None:
            raise DataError(f"compute_image_mean: database '{input_db}' has no records")
        key, value = first
        datum = parse_datum(value, f"{input_db}: record '{key_text(key)}'")
        if datum.encoded:
            log("Decoding Datum", where="compute_image_mean.cpp:57")
        pixels = datum_array(datum, where=f"{input_db}: record '{key_text(key)}'")
        shape = pixels.shape
        data_size = int(np.prod(shape))
        acc = np.zeros(data_size, dtype=np.float32)
        log("Starting iteration", where="compute_image_mean.cpp:70")
        count = 0
        bar = progress_bar(progress, total=total, desc="compute_image_mean", unit="img")
        with bar:
            for key, value in _one_pass(reader):
                where = f"{input_db}: record '{key_text(key)}'"
                datum = parse_datum(value, where)
                values = datum_array(datum, where=where)
                if values.size != data_size:
                    raise DataError(f"{where}: incorrect data field size {values.size} (the "
                                    f"first record has {data_size} values, "
                                    f"{' x '.join(map(str, shape))})")
                acc += values.reshape(-1).astype(np.float32)
                count += 1
                bar.update(1)
                if count % 10000 == 0:
                    log(f"Processed {count} files.", where="compute_image_mean.cpp:95")
        if count % 10000 != 0:
            log(f"Processed {count} files.", where="compute_image_mean.cpp:101")
    finally:
        reader.close()
    blob, mean = mean_blob(acc, count, shape)
    if output_file:
        log(f"Write to {output_file}", where="compute_image_mean.cpp:108")
        write_bytes_atomic(output_file, blob.SerializeToString())
    channels = shape[0]
    dim = shape[1] * shape[2]
    log(f"Number of channels: {channels}", where="compute_image_mean.cpp:114")
    for c in range(channels):
        total_c = np.cumsum(mean[c * dim:(c + 1) * dim], dtype=np.float32)[-1]
        log(f"mean_value channel [{c}]: {float(np.float32(total_c / np.float32(dim))):.6g}",
            where="compute_image_mean.cpp:119")
    return mean.reshape(shape)


def _one_pass(reader):
    """Every record once, in key order."""
    first_key = None
    for key, value in reader.records():
        if first_key is None:
            first_key = key
        elif key == first_key:
            return
        yield key, value


def run(args):
    compute_image_mean(args.input_db, args.output_file, args.backend)
    return 0


register_command("compute_image_mean", add_arguments, run,
                 "mean image of an LMDB/LevelDB of Datums (.binaryproto)")
