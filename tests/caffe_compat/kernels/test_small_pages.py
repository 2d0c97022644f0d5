"""caffe_compat.kernels.small_pages: the array engine's large blobs, parameters and diffs are
memory maps of their own (small pages, as Caffe's malloc), through public means only."""
import mmap
import pathlib

import numpy as np

from caffe_compat.kernels import small_pages as memory


def _mapped(array):
    """Whether ``array``'s memory is a memory map of its own (not numpy's allocation)."""
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return isinstance(getattr(base, "obj", base), mmap.mmap)   # a memoryview of the map


def test_large_blobs_are_memory_maps_of_their_own_small_ones_numpys(monkeypatch):
    monkeypatch.delenv(memory.KEEP_ENV, raising=False)
    monkeypatch.setattr(memory, "_keep", [])
    big = memory.blob_zeros((2, 1024, 1024))           # 8 MB: past numpy's advice threshold
    small = memory.blob_zeros((3, 4))
    for a, shape in ((big, (2, 1024, 1024)), (small, (3, 4))):
        assert a.dtype == np.float32 and a.shape == shape and a.flags.c_contiguous
        assert a.flags.writeable and not a.any()
    assert _mapped(big) and not _mapped(small)
    big[1, 2, 3] = 5.0                                  # writable memory, the values kept
    assert float(big.sum()) == 5.0


def test_the_switch_keeps_numpys_allocation(monkeypatch):
    monkeypatch.setenv(memory.KEEP_ENV, "1")
    monkeypatch.setattr(memory, "_keep", [])
    assert not _mapped(memory.blob_zeros((2, 1024, 1024)))


def test_only_public_means():
    """No private switch of numpy's: the module reads none of its underscored names."""
    source = pathlib.Path(memory.__file__).read_text()
    assert "_set_madvise_hugepage" not in source and "np._core" not in source


def test_the_array_engines_blobs_and_parameters_come_from_blob_zeros(monkeypatch):
    from caffe_compat.array_net import net as array_net
    made = []

    def spy(shape):
        made.append(tuple(shape))
        return memory.blob_zeros(shape)
    monkeypatch.setattr(array_net, "blob_zeros", spy)
    from caffe_compat.io import prototxt as prototxt_io
    net = array_net.build_array_net(prototxt_io.parse_net(
        'name: "n" layer { name: "data" type: "Input" top: "data" '
        'input_param { shape { dim: 2 dim: 3 } } } '
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
        'inner_product_param { num_output: 4 weight_filler { type: "constant" value: 1 } } }'),
        "TEST")
    assert net is not None
    assert (4, 3) in made and (4,) in made and (2, 3) in made and (2, 4) in made
    net.diff_of("ip")
    net.param_diff("ip", 0)
    assert made[-2:] == [(2, 4), (4, 3)]
