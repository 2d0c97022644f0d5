"""caffe_compat.io.fast_text against protobuf's text_format.Parse: the same message wherever it
answers, and no answer where text_format would refuse the text."""
import glob
import os
import random

import pytest
from google.protobuf import text_format

from caffe_compat.io import fast_text
from caffe_compat.io.prototxt import parse_net
from caffe_compat.proto import caffe_pb2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _corpus():
    found = []
    for pattern in ("prototxt/**/*.prototxt", "tests/**/*.prototxt", "benchmarks/**/*.prototxt",
                    "examples/**/*.prototxt", "tests/**/*.pbtxt"):
        found += glob.glob(os.path.join(REPO, pattern), recursive=True)
    return sorted(set(found))


def _message_for(text):
    solver = any(line.strip().startswith(("base_lr", "net:", "train_net", "solver_mode"))
                 for line in text.splitlines())
    return caffe_pb2.SolverParameter if solver else caffe_pb2.NetParameter


def _reference(text, cls):
    msg = cls()
    try:
        text_format.Parse(text, msg)
    except text_format.ParseError:
        return None
    return msg


def _check(text, cls):
    """fast_text answers the same message as text_format, or leaves the text to it."""
    want = _reference(text, cls)
    got = cls()
    if fast_text.parse(text, got):
        assert want is not None, "fast_text took a text that text_format refuses"
        # tolerance 0: the same fields in the same order, compared by their encoding
        assert got.SerializeToString() == want.SerializeToString()
        assert got == want
        return True
    return False


def test_the_corpus_is_there():
    assert len(_corpus()) > 40


def test_every_prototxt_of_the_project():
    answered = 0
    for path in _corpus():
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        answered += _check(text, _message_for(text))
    # the project's own files are written in the common forms
    assert answered >= 0.9 * len(_corpus())


SNIPPETS = [
    'name: "a"', "name: 'a'", 'name: "a\\"b"', 'name: "a" "b"', "name: a",
    'force_backward: true', 'force_backward: True', 'force_backward: t', 'force_backward: 1',
    'force_backward: 2', 'force_backward: yes', 'force_backward: "true"',
    'layer { name: "x" type: "ReLU" }', 'layer: { name: "x" }', 'layer < name: "x" >',
    'layer { name: "x" > ', 'layer { name: "x" ', 'layer { name: "x" } }',
    'layer { blobs_lr: 1 blobs_lr: 2.5 }', 'layer { loss_weight: -0.5 }',
    'layer { loss_weight: .5 }', 'layer { loss_weight: -.5 }', 'layer { loss_weight: 5. }',
    'layer { loss_weight: 1e-4 }', 'layer { loss_weight: 1E+4 }', 'layer { loss_weight: 1.0f }',
    'layer { loss_weight: inf }', 'layer { loss_weight: -inf }', 'layer { loss_weight: nan }',
    'layer { loss_weight: infinity }', 'layer { loss_weight: -nan }',
    'layer { loss_weight: 02.5 }', 'layer { loss_weight: 1.e5 }', 'layer { loss_weight: 00 }',
    'layer { loss_weight: 0x10 }',
    'layer { loss_weight: 1e400 }', 'layer { loss_weight: - 1 }', 'layer { loss_weight: +1 }',
    'layer { convolution_param { num_output: 3 } }',
    'layer { convolution_param { num_output: -3 } }',
    'layer { convolution_param { num_output: 4294967295 } }',
    'layer { convolution_param { num_output: 4294967296 } }',
    'layer { convolution_param { num_output: 010 } }',
    'layer { convolution_param { num_output: 0x10 } }',
    'layer { convolution_param { num_output: 1.0 } }',
    'layer { convolution_param { axis: -2147483648 } }',
    'layer { convolution_param { axis: -2147483649 } }',
    'layer { pooling_param { pool: MAX } }', 'layer { pooling_param { pool: 1 } }',
    'layer { pooling_param { pool: MAXX } }', 'layer { pooling_param { pool: "MAX" } }',
    'layer { include { phase: TRAIN } }', 'layer { include: { phase: TEST }, }',
    'layer { name: "x"; type: "y", }', 'layer { name: "x" name: "y" }',
    'layer { top: "a" top: "b" bottom: "c" }', 'layer { top: ["a", "b"] }',
    'layer { nonexistent: 1 }', 'layer { [caffe.ext]: 1 }', 'input_dim: 1 input_dim: 3',
    'input_shape { dim: 1 dim: 3 dim: 224 dim: 224 }', '# only a comment\n',
    'layer { name: "x" # a comment\n type: "y" }', 'layer { name: "x\ny" }',
    'layer { name: "\u00e9" }', 'layer { transform_param { mean_value: 104 mean_value: 117 } }',
    'layer { param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 } }', '', '   \n\t ',
    'layer { phase: TRAIN }', 'state { phase: TRAIN stage: "a" }', 'layer ,',
    'layer { name: }', 'layer { name }', 'name "x"', 'layer { } layer { }',
]


@pytest.mark.parametrize("text", SNIPPETS)
def test_forms_and_refusals(text):
    _check(text, caffe_pb2.NetParameter)


def test_solver_forms():
    for text in ('base_lr: 0.01 lr_policy: "step" stepvalue: 100 stepvalue: 200 '
                 'solver_mode: CPU type: "Adam" momentum2: 0.999 delta: 1e-8',
                 'net: "a.prototxt" test_iter: 10 test_interval: 500 max_iter: 10000',
                 'solver_type: NESTEROV display: 100 random_seed: -1'):
        assert _check(text, caffe_pb2.SolverParameter)


def test_seeded_mutations_of_real_nets():
    """Characters deleted, doubled or swapped at seeded places of the project's nets: either
    the same message as text_format's, or left to it."""
    rng = random.Random(7)
    texts = corpus_texts()
    for _ in range(400):
        text = rng.choice(texts)
        if not text:
            continue
        mutated = mutate(text, rng)
        _check(mutated, _message_for(mutated))


def corpus_texts(count=40):
    """The text of the first ``count`` files of the corpus."""
    texts = []
    for path in _corpus()[:count]:
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    return texts


def mutate(text, rng, alphabet=' {}<>:;,"\'#\n-.e0123456789abcxyz'):
    """``text`` with one to three characters deleted, inserted or replaced at places drawn
    from ``rng``."""
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(chars))
        how = rng.randrange(3)
        if how == 0:
            del chars[k]
        elif how == 1:
            chars.insert(k, rng.choice(alphabet))
        else:
            chars[k] = rng.choice(alphabet)
        if not chars:
            break
    return "".join(chars)


def test_parse_net_takes_the_quick_reader(monkeypatch):
    calls = []
    real = text_format.Parse
    monkeypatch.setattr(text_format, "Parse", lambda *a, **k: calls.append(1) or real(*a, **k))
    net = parse_net('name: "n" layer { name: "a" type: "Input" top: "a" '
                    'input_param { shape { dim: 1 } } }')
    assert net.layer[0].input_param.shape[0].dim == [1] and not calls
    with pytest.raises(Exception, match="unknown field"):
        parse_net('layer { nme: "a" }')
