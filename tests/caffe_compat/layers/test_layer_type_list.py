"""The registered layer types against ``caffe.layer_type_list()`` of real Caffe 1.0 (CPU build,
recorded in fixtures/caffe_layer_types.json by make_new_layers.py)."""
import json
import pathlib

from caffe_compat.layers import registered_types

LIST = pathlib.Path(__file__).resolve().parent / "fixtures" / "caffe_layer_types.json"


def test_every_caffe_type_is_registered():
    caffe_types = set(json.loads(LIST.read_text())["types"])
    ours = set(registered_types())
    missing = sorted(caffe_types - ours)
    print(f"\nCaffe registers {len(caffe_types)} types, caffe_compat {len(ours)}; missing: "
          f"{missing or 'none'}; only here: {sorted(ours - caffe_types) or 'none'}")
    assert not missing, f"Caffe 1.0 registers types that caffe_compat does not: {missing}"
