import pytest


@pytest.fixture(autouse=True)
def _own_engine_cache(engine_cache):
    """Each test its own empty cache: a trial winner another test stored settles no plan
    here (tests/caffe_compat/onnx_path/test_stored_winner.py checks the settling)."""
    return engine_cache
