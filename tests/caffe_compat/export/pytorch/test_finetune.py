"""The fine-tuning example of docs/export.md runs as written (in a ``python -I`` process without
caffe_compat, on an exported LeNet) and its loss goes down."""
import pathlib
import re
import subprocess
import sys

import pytest

from caffe_compat import Net
from caffe_compat.export import export_pytorch
from tests.caffe_compat.opencv_fixtures.nets import fill_weights
from tests.caffe_compat.public_nets import NETS

pytest.importorskip("safetensors")
DOC = pathlib.Path(__file__).resolve().parents[4] / "docs" / "export.md"


def example():
    text = DOC.read_text()
    marker = text.index("<!-- fine-tuning example")
    return re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)


@pytest.mark.slow
def test_docs_fine_tuning_example(tmp_path):
    net = Net(NETS["LeNet"]["build"](), phase="test")
    fill_weights(net, 5)
    export_pytorch(net, tmp_path / "lenet_torch", outputs=["ip2"], check=False)
    script = tmp_path / "finetune.py"
    script.write_text(example())
    proc = subprocess.run([sys.executable, "-I", "-B", str(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first, last = map(float, re.search(r"loss ([\d.]+) -> ([\d.]+)", proc.stdout).groups())
    assert last < first, proc.stdout
    assert (tmp_path / "lenet_finetuned.pth").exists()
