"""caffe_compat.rules.record.frozen: the rule modules' records behave as
``dataclasses.dataclass(frozen=True)`` records do (fields in order, defaults, equality and
hash by value, no assignment after construction)."""
import dataclasses

import pytest

from caffe_compat.rules.record import frozen


@frozen
class Window:
    """A test record."""
    kernel: tuple
    stride: tuple
    pad: tuple = (0, 0)

    @property
    def n(self):
        return len(self.kernel)


@dataclasses.dataclass(frozen=True)
class Reference:
    kernel: tuple
    stride: tuple
    pad: tuple = (0, 0)


@pytest.mark.parametrize("args, kwargs", [(((3, 3), (1, 1)), {}),
                                          (((3, 3),), {"stride": (2, 2), "pad": (1, 1)}),
                                          ((), {"kernel": (2,), "stride": (1,)})])
def test_fields_as_a_frozen_dataclass_takes_them(args, kwargs):
    ours, ref = Window(*args, **kwargs), Reference(*args, **kwargs)
    assert (ours.kernel, ours.stride, ours.pad) == (ref.kernel, ref.stride, ref.pad)
    assert repr(ours).replace("Window", "Reference", 1) == repr(ref)
    assert hash(ours) == hash(Window(**{"kernel": ours.kernel, "stride": ours.stride,
                                        "pad": ours.pad}))
    assert ours.n == len(ours.kernel)


def test_equality_hash_and_no_assignment():
    a, b, c = Window((3,), (1,)), Window((3,), (1,), (0, 0)), Window((3,), (2,))
    assert a == b and hash(a) == hash(b) and a != c
    assert a != Reference((3,), (1,))               # another class: never equal
    assert len({a, b, c}) == 2
    with pytest.raises(AttributeError, match="frozen Window"):
        a.kernel = (5,)
    with pytest.raises(AttributeError, match="frozen Window"):
        del a.stride
    assert Window.__match_args__ == ("kernel", "stride", "pad")


@pytest.mark.parametrize("args, kwargs, said", [
    (((3,),), {}, "missing field(s) stride"),
    (((3,), (1,), (0,), 4), {}, "takes 3 field(s), 4 given"),
    (((3,),), {"kernel": (1,)}, "field 'kernel' twice"),
    (((3,), (1,)), {"dilation": 2}, "no field 'dilation'"),
])
def test_wrong_arguments_are_named(args, kwargs, said):
    with pytest.raises(TypeError, match=said.replace("(", r"\(").replace(")", r"\)")):
        Window(*args, **kwargs)
