"""Fuzz: caffemodel bytes (truncation, bit flips, wrong wire types, lying lengths, absurd
shapes, fields of Caffe forks), read as a file and as bytes, turned into arrays and copied into a
net; and the size guards, measured with tracemalloc.

Every case ends in a NetParameter whose blobs become arrays of their shape, or in a
``WeightsError`` naming the file (or source) and the layer / blob / byte offset.
"""
import tracemalloc

import numpy as np
import pytest
from hypothesis import strategies as st

from caffe_compat import Net
from caffe_compat.errors import CaffeCompatError, WeightsError
from caffe_compat.io import caffemodel as cm
from caffe_compat.io.caffemodel import (blob_shape, layer_blobs, parse_caffemodel,
                                        read_caffemodel)
from caffe_compat.proto import caffe_pb2
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign, peak_rss_growth


def check_net(net_param):
    # layer_blobs lists every layer in file order: paired by position, since a damaged file
    # can hold several layers of one name (or none)
    layers = list(net_param.layer) + list(net_param.layers)
    listed = layer_blobs(net_param)
    assert [name for name, _, _ in listed] == [lp.name for lp in layers]
    for (name, kind, arrays), layer in zip(listed, layers):
        for arr, blob in zip(arrays, layer.blobs):
            assert isinstance(arr, np.ndarray) and arr.dtype in (np.float32, np.float64)
            assert arr.shape == blob_shape(blob)


def test_fuzz_caffemodel(tmp_path):
    path = str(tmp_path / "fuzz.caffemodel")
    target = Net(S.NET_SEEDS[0], seed=0)
    campaign = Campaign("caffemodel", "caffemodel bytes", CaffeCompatError,
                        names=[path, "<fuzz>"], share=1.0)
    cases = st.tuples(S.protobuf_cases(S.caffemodel_seeds), st.booleans())

    def body(case):
        data, from_file = case
        if from_file:
            with open(path, "wb") as f:
                f.write(data)
            net_param = read_caffemodel(path)
            source = path
        else:
            net_param = parse_caffemodel(data, "<fuzz>")
            source = "<fuzz>"
        check_net(net_param)
        if from_file:
            target.copy_from(source)
        else:
            target.copy_from(net_param)
        return len(data)

    # layer_blobs(NetParameter) and copy_from(NetParameter) have no file to name: they name
    # the layer and blob (copy_from(path) names the file)
    campaign.names += ["<NetParameter>", "layer '"]
    campaign.run(cases, body)


# --------------------------------------------------------------------------------------------
# Size guards

def _claiming_blob(dims, values=2):
    """A caffemodel whose one blob claims ``dims`` but holds ``values`` floats."""
    net = caffe_pb2.NetParameter(name="liar")
    layer = net.layer.add(name="ip", type="InnerProduct")
    blob = layer.blobs.add()
    blob.shape.dim.extend(dims)
    blob.data.extend([1.0] * values)
    return net.SerializeToString()


def _traced(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("dims", [[2**31], [2**16, 2**16, 2], [2**62, 4], [3, 2**40]])
def test_blob_claiming_more_than_the_file_is_refused_without_allocating(dims, tmp_path):
    data = _claiming_blob(dims)
    assert len(data) < 64
    path = tmp_path / "liar.caffemodel"
    path.write_bytes(data)

    def read():
        with pytest.raises(WeightsError, match=r"liar\.caffemodel|layer 'ip'") as e:
            layer_blobs(read_caffemodel(str(path)))
        assert "ip" in str(e.value)

    with peak_rss_growth() as mem:
        peak = _traced(read)
    assert peak < 256 * 1024, f"traced peak {peak} bytes"
    assert mem["growth"] < 32 * 2**20
    # and copying such a blob into a net refuses it too, before allocating
    net = Net(S.NET_SEEDS[0], seed=0)
    with pytest.raises(WeightsError):
        net.copy_from(str(path))


def test_packed_length_over_the_file_is_refused_without_allocating():
    # layer { blobs { data: <packed, claims 2**31 bytes, holds 10> } }
    blob = b"\x2a" + S.encode_varint(2**31) + bytes(10)              # BlobProto.data (5)
    layer = b"\x0a\x02ip" + b"\x3a" + S.encode_varint(len(blob)) + blob  # name, blobs (7)
    data = b"\xd2\x06" + S.encode_varint(len(layer)) + layer         # NetParameter.layer (100)
    peak = _traced(lambda: pytest.raises(WeightsError, parse_caffemodel, data, "<lie>"))
    assert peak < 256 * 1024


def test_file_over_max_bytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.caffemodel"
    path.write_bytes(bytes(4 * 2**20))
    peak = _traced(lambda: pytest.raises(WeightsError, read_caffemodel, str(path),
                                         max_bytes=1000))
    assert peak < 64 * 1024
    with pytest.raises(WeightsError, match="over the limit of 1000 bytes"):
        read_caffemodel(str(path), max_bytes=1000)


def test_blob_limit_is_configurable(monkeypatch):
    data = _claiming_blob([64, 64], values=64 * 64)
    layer_blobs(parse_caffemodel(data, "<ok>"))
    monkeypatch.setattr(cm, "MAX_BLOB_COUNT", 1000)
    with pytest.raises(WeightsError, match="more than Caffe allows"):
        layer_blobs(parse_caffemodel(data, "<limited>"))


def test_seed_caffemodels_and_solverstates_are_valid():
    """Mutations start from valid files (the last three caffemodel seeds are deliberately of
    the wrong kind: a solverstate, a prototxt, an HDF5 signature)."""
    from caffe_compat.io.solverstate import history_arrays, parse_solverstate
    for data in S.caffemodel_seeds()[:-3]:
        check_net(parse_caffemodel(data, "<seed>"))
    for data in S.caffemodel_seeds()[-3:]:
        with pytest.raises(WeightsError):
            parse_caffemodel(data, "<seed>")
    for data in S.solverstate_seeds():
        history_arrays(parse_solverstate(data, "<seed>"))
