"""The SoftmaxWithLoss nets of tests/pycaffe/test_label_after_forward.py and of the script
that wrote its fixture with real pycaffe (fixtures/label_after_forward/make_label_fixture.py)."""

# name -> (score shape, label shape, loss_param text); labels drawn in [0, 3)
NETS = {"rows": ((4, 3), (4,), ""),
        "spatial_ignore": ((2, 3, 5), (2, 5), "loss_param { ignore_label: 1 }"),
        "spatial_batch_size": ((2, 3, 2, 2), (2, 1, 2, 2),
                               "loss_param { normalization: BATCH_SIZE }")}


def _dims(shape):
    return " ".join(f"dim: {d}" for d in shape)


def net_text(x_shape, label_shape, loss_param):
    """Scores through a learned Scale (a parameter diff to compare too) into the loss."""
    return ('force_backward: true\n'
            f'layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ {_dims(x_shape)} }} }} }}\n'
            f'layer {{ name: "label" type: "Input" top: "label" input_param {{ shape {{ {_dims(label_shape)} }} }} }}\n'
            'layer { name: "s" type: "Scale" bottom: "x" top: "s" '
            'scale_param { filler { type: "constant" value: 1.5 } } }\n'
            f'layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "s" bottom: "label" top: "loss" {loss_param} }}\n')
