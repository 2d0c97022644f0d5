"""pycaffe's ``net.engine`` / ``net.engine_reason``, and the one warning that says why the
torch engine builds a net the array engine refused."""
import warnings

import pytest

import caffe
import caffe_compat
from caffe_compat.diagnostics.engine_notice import EngineFallbackWarning

HEAD = ('name: "n"\ninput: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
        'convolution_param { num_output: 4 kernel_size: 3 } }\n')


@pytest.mark.cpu_mode
def test_the_array_engine_net_says_so(tmp_path):
    path = tmp_path / "prelu.prototxt"
    path.write_text(HEAD + 'layer { name: "p" type: "PReLU" bottom: "c" top: "c" }\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallbackWarning)
        net = caffe.Net(str(path), caffe.TEST)
    assert net.engine == "array" and net.engine_reason is None


@pytest.mark.cpu_mode
def test_a_refused_net_says_why_once(tmp_path):
    path = tmp_path / "embed.prototxt"
    path.write_text(HEAD + 'layer { name: "e" type: "Embed" bottom: "c" top: "e" '
                    'embed_param { num_output: 2 input_dim: 4 } }\n')
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        nets = [caffe.Net(str(path), caffe.TEST) for _ in range(2)]
    said = [w for w in seen if issubclass(w.category, EngineFallbackWarning)]
    assert len(said) == 1, [str(w.message) for w in said]
    assert "Embed" in str(said[0].message) and said[0].filename == __file__
    for net in nets:
        assert net.engine == "torch" and net.engine_reason == "layer type Embed"


def test_a_net_the_torch_engine_refuses_too_gets_its_error_alone(tmp_path):
    """The move is said once the torch engine built the net: an unknown type is the torch
    engine's error (file, line, layer) with no warning before it."""
    path = tmp_path / "unknown.prototxt"
    path.write_text(HEAD + 'layer { name: "u" type: "NoSuchType" bottom: "c" top: "u" }\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallbackWarning)
        try:
            caffe.Net(str(path), caffe.TEST)
        except caffe_compat.NetError as exc:
            assert f"{path}:4:" in str(exc) and "NoSuchType" in str(exc)
        else:
            raise AssertionError("an unknown layer type was accepted")
