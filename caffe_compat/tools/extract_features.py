"""``caffe-compat extract_features pretrained_net_param feature_extraction_proto_file
extract_feature_blob_name1[,name2,...] save_feature_dataset_name1[,name2,...]
num_mini_batches db_type [CPU/GPU] [DEVICE_ID=0]`` (tools/extract_features.cpp).

The net (TEST phase, its own data layer feeding it) runs ``num_mini_batches`` forward passes;
each item of each named blob becomes a Datum with the blob's legacy channels / height / width
and its values as ``float_data``, stored under the key ``"%010d"`` of its running index in a
new database per blob (committed every 1000 records; each database appears only when
complete).
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..cli.registry import register_command
from ..data import db as db_io
from ..data.transformer import legacy_shape
from ..errors import CaffeCompatError, DataError
from ..proto import caffe_pb2
from ..cli._log import log, progress_bar


def add_arguments(p):
    p.add_argument("pretrained_net_param", help="caffemodel")
    p.add_argument("feature_extraction_proto_file", help="net definition with a data layer")
    p.add_argument("blob_names", help="extract_feature_blob_name1[,name2,...]")
    p.add_argument("dataset_names", help="save_feature_dataset_name1[,name2,...]")
    p.add_argument("num_mini_batches", help="number of forward passes")
    p.add_argument("db_type", help="lmdb or leveldb")
    p.add_argument("mode", nargs="?", default="CPU", help="CPU or GPU")
    p.add_argument("device_id", nargs="?", default="0", help="GPU id (with GPU)")


def feature_datum(values, shape):
    """The Datum extract_features stores for one item of a blob of ``shape``."""
    legacy = legacy_shape(shape)
    if legacy is None:
        raise DataError(f"extract_features: a blob of shape {tuple(shape)} has more than 4 "
                        "axes; Caffe's Datum holds channels x height x width")
    _, c, h, w = legacy
    d = caffe_pb2.Datum()
    d.height, d.width, d.channels = int(h), int(w), int(c)
    d.float_data.extend(np.asarray(values, dtype=np.float32).reshape(-1).tolist())
    return d


def extract_features(weights, model, blob_names, dataset_names, num_mini_batches, db_type,
                     device="cpu", progress=None):
    """Run the extraction; returns the number of records written per blob."""
    import torch

    from ..net.core import Net
    blob_names = list(blob_names)
    dataset_names = list(dataset_names)
    if len(blob_names) != len(dataset_names):
        raise DataError(f"extract_features: {len(blob_names)} blob names but "
                        f"{len(dataset_names)} dataset names; the number of blob names and "
                        "dataset names must be equal")
    net = Net(model, weights, phase="test")
    net.to(device)
    for name in blob_names:
        if name not in net.blobs:
            raise DataError(f"extract_features: unknown feature blob name '{name}' in the "
                            f"network {model} (blobs: {', '.join(net.blobs)})")
    index = [0] * len(blob_names)
    log("Extracting Features", "E", where="extract_features.cpp:133")
    bar = progress_bar(progress, total=num_mini_batches, desc="extract_features", unit="batch")
    with contextlib.ExitStack() as stack:
        stack.enter_context(bar)
        writers = []
        for name in dataset_names:
            log(f"Opening dataset {name}", where="extract_features.cpp:125")
            writers.append(stack.enter_context(db_io.create_db(name, db_type)))
        with torch.no_grad():
            for _ in range(num_mini_batches):
                net.forward()
                for i, name in enumerate(blob_names):
                    blob = net.blobs[name].data.detach().cpu().numpy()
                    for item in blob.reshape(blob.shape[0], -1) if blob.ndim else [blob]:
                        datum = feature_datum(item, blob.shape)
                        writers[i].put(f"{index[i]:010d}".encode(), datum.SerializeToString())
                        index[i] += 1
                        if index[i] % 1000 == 0:
                            writers[i].commit()
                            log(f"Extracted features of {index[i]} query images for feature "
                                f"blob {name}", "E", where="extract_features.cpp:165")
                bar.update(1)
        for i, name in enumerate(blob_names):
            log(f"Extracted features of {index[i]} query images for feature blob {name}", "E",
                where="extract_features.cpp:176")
    log("Successfully extracted the features!", "E", where="extract_features.cpp:181")
    return index


def run(args):
    from ..data.images import atoi
    mode = args.mode.upper()
    device = "cpu"
    if mode == "GPU":
        device_id = atoi(args.device_id)
        if device_id < 0:
            raise CaffeCompatError(f"extract_features: device id {device_id} must be >= 0")
        log("Using GPU", "E", where="extract_features.cpp:52")
        log(f"Using Device_id={device_id}", "E", where="extract_features.cpp:58")
        device = f"cuda:{device_id}"
    else:
        log("Using CPU", "E", where="extract_features.cpp:62")
    extract_features(args.pretrained_net_param, args.feature_extraction_proto_file,
                     args.blob_names.split(","), args.dataset_names.split(","),
                     atoi(args.num_mini_batches), args.db_type, device)
    return 0


register_command("extract_features", add_arguments, run,
                 "features of a trained net's blobs, stored as Datums in LMDB/LevelDB")
