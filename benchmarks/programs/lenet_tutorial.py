"""Caffe's LeNet tutorial notebook (01-learning-lenet), sections 1-4, run unchanged: LeNet
written with NetSpec, the first step, 200 solver steps with the first test batch scored at
each step and a 100-batch test every 25, the filter and score plots (Agg backend).

Source: BVLC/caffe examples/01-learning-lenet.ipynb (commit 9b891540, git blob 1c328260),
cells 3-34 as tests/pycaffe/public_programs/programs.py runs them (program
``lenet_tutorial``: Jupyter's porting rules and its one listed edit, the CPU mode), with its
stand-in data (LMDBs of 640 and 500 28x28 digit patterns). BSD 2-Clause licence, Copyright
(c) 2014-2017 The Regents of the University of California (Regents) and the contributors
(tests/pycaffe/public_programs/sources/bvlc_caffe/LICENSE).
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "pycaffe",
                        "public_programs", "programs.py")
NAME = "lenet_tutorial"


def _programs():
    """tests/pycaffe/public_programs/programs.py, loaded by path (this repository stays off
    sys.path, so that under real Caffe ``import caffe`` is Caffe's)."""
    spec = importlib.util.spec_from_file_location("_public_programs", PROGRAMS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module           # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def setup(workdir):
    import pathlib
    programs = _programs()
    programs.PROGRAMS[NAME].prepare(pathlib.Path(workdir))


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")
    programs = _programs()
    program = programs.PROGRAMS[NAME]
    text = programs.program_text(program)
    import caffe
    caffe.set_random_seed(programs.HARNESS_SEED)
    os.chdir(program.cwd)
    exec(compile(text, f"{program.source} ({NAME})", "exec"), {"__name__": "__main__"})


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
