"""``python -m caffe_compat.cli``: the ``caffe-compat`` command."""
import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
