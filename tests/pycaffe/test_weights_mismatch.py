"""pycaffe's weights loads that leave layers of the net uncovered: a WeightsMismatchWarning on
both engines, from both constructor forms, copy_from and HDF5 files; the warnings filter makes
it an error; a net and its own weights say nothing."""
import warnings

import pytest

import caffe
from caffe_compat import Net as EngineNet
from caffe_compat.errors import WeightsError, WeightsMismatchWarning
from caffe_compat.solvers.weights import write_net_hdf5

DEPLOY = """name: "small"
input: "data"
input_shape { dim: 1 dim: 1 dim: 6 dim: 6 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "fc2" type: "InnerProduct" bottom: "conv1" top: "fc2"
        inner_product_param { num_output: 3 } }
"""
RENAMED = DEPLOY.replace('"fc2"', '"fc_out"')
# the net the weights come from: DEPLOY with random weights
SOURCE = DEPLOY.replace("kernel_size: 3", "kernel_size: 3 weight_filler { type: 'xavier' }") \
    .replace("num_output: 3", "num_output: 3 weight_filler { type: 'xavier' }")


@pytest.fixture
def files(tmp_path, net_file):
    """(deploy path, renamed deploy path, binary caffemodel, HDF5 caffemodel)."""
    src = EngineNet(SOURCE, seed=3)
    src.save(tmp_path / "w.caffemodel")
    write_net_hdf5(src, tmp_path / "w.caffemodel.h5")
    return (net_file(DEPLOY), net_file(RENAMED), str(tmp_path / "w.caffemodel"),
            str(tmp_path / "w.caffemodel.h5"))


@pytest.fixture(params=["array", "torch"])
def engine(request, monkeypatch):
    if request.param == "torch":
        monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", "0")
    return request.param


def check(record, weights):
    mismatch = [w for w in record if issubclass(w.category, WeightsMismatchWarning)]
    assert len(mismatch) == 1, [str(w.message) for w in record]
    text = str(mismatch[0].message)
    assert text.startswith(f"{weights}: these weights do not cover net 'small'")
    assert "'fc_out' (2 blobs" in text and "'fc2'" in text
    assert mismatch[0].filename == __file__       # the user's line, not the package's


@pytest.mark.parametrize("hdf5", [False, True])
def test_every_form_of_the_load_warns(files, engine, hdf5):
    _, renamed, binary, h5 = files
    weights = h5 if hdf5 else binary
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        net = caffe.Net(renamed, caffe.TEST, weights=weights)
    check(record, weights)
    assert not net.params["fc_out"][0].data.any()         # kept its filler (constant 0)
    assert net.params["conv1"][0].data.any()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        caffe.Net(renamed, weights, caffe.TEST)           # the older form
    check(record, weights)
    net = caffe.Net(renamed, caffe.TEST)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        net.copy_from(weights)
    check(record, weights)


def test_the_warnings_filter_makes_it_an_error(files, engine):
    _, renamed, binary, _ = files
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        with pytest.raises(WeightsError, match=r"w\.caffemodel: these weights do not cover "
                                               r"net 'small': .*'fc_out'"):
            caffe.Net(renamed, caffe.TEST, weights=binary)


def test_a_net_and_its_own_weights_say_nothing(files, engine):
    deploy, _, binary, h5 = files
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        for weights in (binary, h5):
            net = caffe.Net(deploy, caffe.TEST, weights=weights)
            assert net.params["fc2"][0].data.any()


TRAIN = RENAMED.replace('input: "data"\ninput_shape { dim: 1 dim: 1 dim: 6 dim: 6 }\n', """
layer { name: "input" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 1 dim: 1 dim: 6 dim: 6 } shape { dim: 1 dim: 3 } } }
""") + 'layer { name: "loss" type: "EuclideanLoss" bottom: "fc_out" bottom: "label" }\n'


@pytest.mark.parametrize("both", [False, True])
def test_a_solvers_weights_warn_once_for_what_no_file_covers(files, engine, net_file, tmp_path,
                                                             both):
    """``weights:`` of a solver file (several files cover the net together)."""
    _, _, binary, _ = files
    proto = EngineNet(SOURCE.replace('"fc2"', '"fc_out"'), seed=5).to_proto()
    keep = [lp for lp in proto.layer if lp.name == "fc_out"]
    del proto.layer[:]
    proto.layer.extend(keep)
    from caffe_compat.io.caffemodel import write_caffemodel
    write_caffemodel(proto, tmp_path / "fc_out.caffemodel")
    weights = f"{binary},{tmp_path / 'fc_out.caffemodel'}" if both else binary
    solver = net_file(f'net: "{net_file(TRAIN)}"\nbase_lr: 0.01\nlr_policy: "fixed"\n'
                      f'max_iter: 1\nweights: "{weights}"\n', name="solver.prototxt")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        s = caffe.SGDSolver(solver)
    found = [w for w in record if issubclass(w.category, WeightsMismatchWarning)]
    if both:
        assert not found, [str(w.message) for w in found]
        assert s.net.params["fc_out"][0].data.any()
    else:
        assert len(found) == 1 and "'fc_out' (2 blobs" in str(found[0].message)
