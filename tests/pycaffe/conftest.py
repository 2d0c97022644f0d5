"""Helpers for the pycaffe tests: nets written to temporary files, as pycaffe's tests do."""
import pytest


@pytest.fixture
def net_file(tmp_path):
    """``net_file(text)`` -> path of a prototxt holding ``text``."""
    counter = [0]

    def write(text, name=None):
        counter[0] += 1
        path = tmp_path / (name or f"net{counter[0]}.prototxt")
        path.write_text(text)
        return str(path)
    return write
