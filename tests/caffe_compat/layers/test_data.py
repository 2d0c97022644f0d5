"""Data layer: batches equal real Caffe 1.0's, bit for bit, and bad sources fail clearly.

The fixtures (tests/fixtures/caffe_data, written by real Caffe with make_fixtures.py) hold
Caffe's databases (keys and values), means and the first 5 batches of each Data net after
``caffe.set_random_seed(seed)``: TRAIN random crops and mirrors with a mean file and scale,
TEST centre crops, TEST mirrors with mean values, grey LevelDB, encoded JPEG/PNG Datums
decoded as colour, grey or native, images of varied sizes, float_data Datums, one top.
"""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.data.images import raw_datum
from caffe_compat.errors import CaffeCompatError, DataError
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat import data_fixtures as fx

DATA_CASES = sorted(c for c in fx.cases()["nets"] if c.startswith("d"))


@pytest.fixture(scope="module")
def caffe_dbs(tmp_path_factory):
    """Caffe's databases rewritten from the fixture's keys and values, and its means."""
    root = tmp_path_factory.mktemp("caffe_dbs")
    cases = fx.cases()
    names = list(cases["databases"]) + [f"features_{b}_lmdb" for b in
                                        cases["features"]["blobs"]]
    for name in names:
        backend = "leveldb" if name.endswith("leveldb") else "lmdb"
        fx.write_database(fx.database_records(name), root / name, backend)
    means = {m: str(fx.FIXTURES / f"{m}.binaryproto") for m in cases["means"]}
    return root, means


def close(net):
    for _, key, _, _ in net._nodes:
        getattr(net.layers[key], "close", lambda: None)()


def run_case(case, root, means, n):
    spec = fx.cases()["nets"][case]
    net = Net(fx.fill(spec["prototxt"], root, means), phase=spec["phase"].lower(),
              seed=spec["seed"])
    out = []
    try:
        for _ in range(n):
            net.forward()
            label = net.blobs["label"].data.numpy().copy() if "label" in net.blobs else None
            out.append((net.blobs["data"].data.numpy().copy(), label))
    finally:
        close(net)
    return out


def assert_batches_equal(case, got, want):
    assert len(got) == len(want) == fx.cases()["batches"]
    for i, ((data, label), (w_data, w_label)) in enumerate(zip(got, want)):
        # tolerance 0: the same records, crop offsets, mirror draws and float32 arithmetic
        assert data.shape == w_data.shape, f"{case} batch {i}"
        np.testing.assert_array_equal(data, w_data, err_msg=f"{case} batch {i}")
        if w_label is None:
            assert label is None
        else:
            np.testing.assert_array_equal(label, w_label, err_msg=f"{case} labels {i}")


@pytest.mark.parametrize("case", DATA_CASES)
def test_batches_equal_real_caffe(case, caffe_dbs):
    root, means = caffe_dbs
    want = fx.batches(case)
    assert_batches_equal(case, run_case(case, root, means, len(want)), want)


@pytest.mark.parametrize("case", DATA_CASES)
def test_real_caffe_reads_our_databases_into_the_same_batches(case):
    # recorded by make_fixtures.py: Caffe's Data layer over the databases that this
    # project's convert_imageset / extract_features wrote from the same images and flags
    assert fx.has_batches(case, ours=True)
    assert_batches_equal(case, fx.batches(case, ours=True), fx.batches(case))


def test_rand_skip_has_no_effect_as_in_caffe_1_0(caffe_dbs):
    root, means = caffe_dbs
    spec = fx.cases()["nets"]["d1_train_crop_mirror_meanfile"]
    text = fx.fill(spec["prototxt"], root, means).replace("batch_size: 3",
                                                          "batch_size: 3 rand_skip: 5")
    net = Net(text, phase="train", seed=spec["seed"])
    net.forward()
    first = net.blobs["data"].data.numpy().copy()
    close(net)
    np.testing.assert_array_equal(first, fx.batches("d1_train_crop_mirror_meanfile")[0][0])


# ------------------------------------------------------------------------------ bad input
def _net(source, backend="LMDB", transform="", batch=2):
    return (f'layer {{ name: "train-data" type: "Data" top: "data" top: "label"\n'
            f'  data_param {{ source: "{source}" backend: {backend} batch_size: {batch} }}\n'
            f'  transform_param {{ {transform} }} }}\n')


def _db(path, values, backend="lmdb"):
    fx.write_database([(f"{i:08d}_img{i}.png".encode(), v) for i, v in enumerate(values)],
                      path, backend)
    return path


def _good(shape=(3, 5, 6), label=1):
    return raw_datum(np.arange(np.prod(shape), dtype=np.uint8).reshape(shape),
                     label).SerializeToString()


def test_missing_database_names_layer_and_source(tmp_path):
    with pytest.raises(DataError) as e:
        Net(_net(tmp_path / "nowhere_lmdb"), phase="train")
    msg = str(e.value)
    assert "train-data" in msg and "nowhere_lmdb" in msg and "does not exist" in msg


def test_backend_mismatch_suggests_the_right_backend(tmp_path):
    src = _db(tmp_path / "db", [_good()])
    with pytest.raises(DataError, match="is a lmdb database but the backend is leveldb"):
        Net(_net(src, backend="LEVELDB"), phase="train")


def test_empty_database(tmp_path):
    src = _db(tmp_path / "db", [])
    with pytest.raises(DataError, match="has no records"):
        Net(_net(src), phase="train")


def test_corrupt_first_datum_fails_at_build_naming_the_key(tmp_path):
    src = _db(tmp_path / "db", [b"\xff\xff\xff not a datum", _good()])
    with pytest.raises(DataError) as e:
        Net(_net(src), phase="train")
    msg = str(e.value)
    assert "00000000_img0.png" in msg and "train-data" in msg and str(src) in msg


def test_corrupt_datum_later_fails_at_forward_naming_the_key(tmp_path):
    src = _db(tmp_path / "db", [_good(), _good(), _good(), b"\x08\x03\x10"])
    net = Net(_net(src), phase="train")
    net.forward()
    with pytest.raises(DataError) as e:
        net.forward()
    close(net)
    assert "00000003_img3.png" in str(e.value)


def test_short_data_field_is_reported(tmp_path):
    d = caffe_pb2.Datum()
    d.ParseFromString(_good())
    d.data = d.data[:-3]
    src = _db(tmp_path / "db", [_good(), d.SerializeToString()])
    net = Net(_net(src), phase="train")
    with pytest.raises(DataError, match=r"00000001_img1.png.*87 bytes of data for shape 3 x 5 x "
                                        r"6, which needs 90"):
        net.forward()
    close(net)


def test_undecodable_encoded_datum(tmp_path):
    d = caffe_pb2.Datum()
    d.data, d.encoded, d.label = b"\x89PNG broken", True, 0
    src = _db(tmp_path / "db", [d.SerializeToString()])
    with pytest.raises(DataError, match="00000000_img0.png.*cannot be decoded"):
        Net(_net(src), phase="train")


def test_mean_of_the_wrong_shape_names_file_and_shapes(tmp_path):
    src = _db(tmp_path / "db", [_good()])
    mean = tmp_path / "mean.binaryproto"
    blob = caffe_pb2.BlobProto()
    blob.num, blob.channels, blob.height, blob.width = 1, 3, 4, 6
    blob.data.extend([0.0] * 72)
    mean.write_bytes(blob.SerializeToString())
    with pytest.raises(DataError) as e:
        Net(_net(src, transform=f'mean_file: "{mean}"'), phase="train")
    msg = str(e.value)
    assert "mean.binaryproto" in msg and "3 x 4 x 6" in msg and "3 x 5 x 6" in msg
    assert "train-data" in msg and "00000000_img0.png" in msg


def test_missing_mean_file(tmp_path):
    src = _db(tmp_path / "db", [_good()])
    with pytest.raises(DataError, match="mean_file .*nomean.binaryproto' does not exist"):
        Net(_net(src, transform=f'mean_file: "{tmp_path}/nomean.binaryproto"'), phase="train")


def test_batch_of_mixed_sizes_without_crop(tmp_path):
    src = _db(tmp_path / "db", [_good((3, 5, 6)), _good((3, 6, 6))])
    net = Net(_net(src), phase="train")
    with pytest.raises(DataError, match="00000001_img1.png.*6 x 6"):
        net.forward()
    close(net)


def test_crop_larger_than_the_images(tmp_path):
    src = _db(tmp_path / "db", [_good()])
    with pytest.raises(CaffeCompatError, match="crop_size 7 is larger than the 5 x 6 image"):
        Net(_net(src, transform="crop_size: 7"), phase="train")


def test_mean_value_count_must_match_channels(tmp_path):
    src = _db(tmp_path / "db", [_good()])
    net = Net(_net(src, transform="mean_value: 1 mean_value: 2"), phase="train")
    with pytest.raises(DataError, match="2 mean_value given for a 3-channel image"):
        net.forward()
    close(net)


def test_leveldb_and_wrapping(tmp_path):
    values = [_good(label=i) for i in range(3)]
    src = _db(tmp_path / "db", values, backend="leveldb")
    net = Net(_net(src, backend="LEVELDB", batch=2), phase="test")
    labels = []
    for _ in range(3):
        net.forward()
        labels += net.blobs["label"].data.tolist()
    close(net)
    assert labels == [0, 1, 2, 0, 1, 2]   # key order, back to the first after the last


def test_seed_changes_and_fixes_the_crops(tmp_path):
    rng = np.random.default_rng(0)
    values = [raw_datum(rng.integers(0, 256, (1, 9, 9), dtype=np.uint8), 0).SerializeToString()
              for _ in range(4)]
    src = _db(tmp_path / "db", values)

    def first(seed):
        net = Net(_net(src, transform="crop_size: 4 mirror: true", batch=4), phase="train",
                  seed=seed)
        net.forward()
        out = net.blobs["data"].data.numpy().copy()
        close(net)
        return out

    np.testing.assert_array_equal(first(3), first(3))
    assert not np.array_equal(first(3), first(4))


def test_solver_random_seed_gives_caffes_train_batches(caffe_dbs, tmp_path):
    # Caffe's Solver::Init calls Caffe::set_random_seed(random_seed) before building the train
    # net, so its Data layer draws as in the fixture net built after set_random_seed(seed)
    from caffe_compat import get_solver
    from caffe_compat.io.prototxt import parse_solver
    root, means = caffe_dbs
    case = "d1_train_crop_mirror_meanfile"
    spec = fx.cases()["nets"][case]
    net = fx.fill(spec["prototxt"], root, means) + (
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"\n'
        '  inner_product_param { num_output: 1 } }\n'
        'layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" }\n')
    solver = get_solver(parse_solver(
        f'train_net_param {{ {net} }} base_lr: 0 lr_policy: "fixed" max_iter: 10 '
        f'random_seed: {spec["seed"]} snapshot_prefix: "{tmp_path}/s"'))
    got = []
    for _ in range(2):
        solver.step(1)
        got.append(solver.net.blobs["data"].data.numpy().copy())
    close(solver.net)
    for i, (data, (want, _)) in enumerate(zip(got, fx.batches(case))):
        np.testing.assert_array_equal(data, want, err_msg=f"batch {i}")   # exact, as above


def test_an_image_path_that_is_not_utf8_is_read_as_caffe_opens_it(tmp_path):
    """A list or window file's line with bytes that are not UTF-8 (read with
    ``surrogateescape``) names a file as Caffe's C++ opens it; OpenCV's Python binding would
    crash the process on such a ``str``, so the bytes are read and decoded here."""
    import os

    import cv2

    from caffe_compat.data.images import imread, read_image
    image = (np.arange(4 * 5 * 3) % 251).astype(np.uint8).reshape(4, 5, 3)
    name = os.fsencode(str(tmp_path)) + b"/w\x80.png"
    assert cv2.imwrite(str(tmp_path / "plain.png"), image)
    with open(name, "wb") as f:
        f.write((tmp_path / "plain.png").read_bytes())
    path = os.fsdecode(name)             # '\udc80': what surrogateescape gives
    assert np.array_equal(imread(path, cv2.IMREAD_COLOR), image)
    assert np.array_equal(read_image(path), image)
    assert imread(path + "-missing", cv2.IMREAD_COLOR) is None
    assert read_image(path + "-missing") is None
    assert np.array_equal(imread(path + "\0\udcb0", cv2.IMREAD_COLOR), image)  # ends at NUL
    assert imread(str(tmp_path) + "/\0\udcb0.png", cv2.IMREAD_COLOR) is None   # a folder
