"""Fuzz: database records of the Data layer (Caffe Datums: raw, encoded PNG/JPEG, float_data;
truncated, bit-flipped, lying lengths and shapes) and R-CNN window files.

Every record ends in a transformed image of the right shape or in a ``DataError`` naming the
layer and record key; every window file in a layer that yields batches, or in a DataError /
NetError naming the file.
"""
import numpy as np
from hypothesis import strategies as st

from caffe_compat.data.images import parse_datum
from caffe_compat.data.transformer import DataTransformer
from caffe_compat.errors import CaffeCompatError, DataError
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat import data_fixtures as fx
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign

WHERE = "layer 'data' (type Data, lmdb source 'fuzz_lmdb'): record '00000001_x.png'"
_SEEDS = []


def datum_seeds():
    if not _SEEDS:
        for name in ("raw_lmdb", "enc_lmdb", "enc_png_lmdb", "features_data_lmdb"):
            _SEEDS.extend(v for _, v in fx.database_records(name)[:3])
    return _SEEDS


def test_fuzz_datum_records():
    tp = caffe_pb2.TransformationParameter(crop_size=3, mirror=True, scale=0.5)
    tp.mean_value.extend([1, 2, 3])
    campaign = Campaign("datum", "Data layer records", DataError, names=[WHERE])

    def body(case):
        data, force = case
        tp.force_color, tp.force_gray = force == "color", force == "gray"
        tf = DataTransformer(tp, "TRAIN", rng=_Rng(), where="layer 'data'")
        datum = parse_datum(data, WHERE)
        pixels = tf.datum_pixels(datum, WHERE)
        c = pixels.shape[0]
        if tp.mean_value and len(tp.mean_value) not in (1, c):
            tp.ClearField("mean_value")
        shape = tf.output_shape(pixels.shape)
        out = np.empty(shape, np.float32)
        tf.transform_chw(pixels, out, WHERE)
        assert out.shape == (c, 3, 3)
        tp.mean_value[:] = [1, 2, 3]
        return len(data)

    campaign.run(st.tuples(S.protobuf_cases(datum_seeds),
                           st.sampled_from(["none", "color", "gray"])), body)


class _Rng:
    n = 0

    def rand_mod(self, n):
        self.n += 1
        return self.n % n


def window_seeds():
    return [(fx.IMAGES / "windows.txt").read_text()]


def test_fuzz_window_files(tmp_path):
    from caffe_compat.data.caffe_random import CaffeRandom
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.layers.window_data import WindowData
    path = tmp_path / "windows.txt"
    campaign = Campaign("window file", "WindowData window files", CaffeCompatError,
                        names=[str(path), "windows.txt"])
    lp = parse_net('layer { name: "w" type: "WindowData" top: "data" top: "label"\n'
                   f'  window_data_param {{ source: "{path}" root_folder: "{fx.IMAGES}/" '
                   'batch_size: 3 context_pad: 1 }\n'
                   '  transform_param { crop_size: 5 mirror: true } }').layer[0]

    def body(data):
        path.write_bytes(data)
        # the layer's set-up and its prefetch work, run here without the thread
        layer = WindowData(lp, [], "TRAIN", caffe_rng=CaffeRandom(1))
        batch, label = next(layer.batch_source().batches())
        assert batch.shape == (3, 3, 5, 5) and label.shape == (3,)
        return len(data)

    campaign.run(S.text_cases(window_seeds, vocabulary=["#", "w0.png", "w1.jpg", "3"]), body)
