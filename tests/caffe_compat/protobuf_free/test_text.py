"""The light prototxt reader against protobuf's text_format: the same message, field by field,
wherever it answers; no answer wherever text_format refuses the text or
caffe_compat.io.fast_text leaves it to text_format. Corpus: every prototxt of the project
(tests/caffe_compat/test_fast_text.py's), its seeded mutations and the snippets of forms."""
import random

import pytest

from caffe_compat.io.protobuf_free import text as light_text
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat.test_fast_text import (SNIPPETS, _corpus, _message_for, _reference,
                                               corpus_texts, mutate)

from .compare import differences


def _check(text, cls):
    got = light_text.parse(text, cls.DESCRIPTOR.name)
    if got is None:
        return False
    want = _reference(text, cls)
    assert want is not None, "the light reader took a text that text_format refuses"
    assert differences(got, want) == []
    return True


def test_every_prototxt_of_the_project():
    corpus = _corpus()
    answered = 0
    for path in corpus:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        answered += _check(text, _message_for(text))
    assert answered >= 0.9 * len(corpus)


@pytest.mark.parametrize("text", SNIPPETS)
def test_forms_and_refusals(text):
    _check(text, caffe_pb2.NetParameter)


def test_what_fast_text_leaves_the_light_reader_leaves():
    """The light reader takes the forms caffe_compat.io.fast_text takes, no others."""
    from caffe_compat.io import fast_text
    for text in SNIPPETS:
        taken = fast_text.parse(text, caffe_pb2.NetParameter())
        assert (light_text.parse(text) is not None) == taken, text


def test_seeded_mutations_of_real_nets():
    rng = random.Random(11)
    texts = corpus_texts()
    answered = 0
    for _ in range(120):
        text = mutate(rng.choice(texts) or " ", rng)
        answered += _check(text, _message_for(text))
    assert answered > 0


def test_required_fields_missing_are_left_to_protobuf():
    assert light_text.parse('layer { clip_param { min: 0 } }') is None
    assert light_text.parse('layer { clip_param { min: 0 max: 6 } }') is not None
