"""The set-up the CaffeNet and GoogLeNet programs share: ``benchmarks/program_data.py`` writes
the files they read (seeded random weights in the public files' layouts, images, mean, labels).
Imported by their ``setup``, which runs as ``python PROGRAM.py setup WORKDIR`` (this folder is
then the script's own, first on ``sys.path``); the runner skips files named ``_*``."""
import importlib.util
import os


def write(workdir):
    """Run ``benchmarks/program_data.py`` into ``workdir``."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "program_data.py")
    spec = importlib.util.spec_from_file_location("program_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([workdir])
