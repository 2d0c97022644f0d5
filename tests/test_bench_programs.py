"""benchmarks/bench_programs.py's parts that need no Caffe: the programs it finds (each a
file with ``setup`` and ``main`` or ``command``, found, not listed) and the phase timing of
benchmarks/program_phases.py on a small program."""
import importlib.util
import json
import subprocess
import sys

from tests.conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_programs",
                                                  REPO / "benchmarks" / "bench_programs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_programs_are_found_with_their_entry_points():
    programs = _bench().discover()
    assert {"brewing_logreg", "lenet_tutorial", "caffe_time_lenet"} <= set(programs)
    for name, program in programs.items():
        assert callable(program.setup), name
        assert callable(getattr(program, "main", None)) or \
            callable(getattr(program, "command", None)), name
        assert "licence" in (program.__doc__ or "").lower(), f"{name}: header names its licence"
    tool = programs["caffe_time_lenet"]
    assert tool.command("caffe")[0] == "caffe" and tool.command("ours")[0] == "caffe-compat"


def test_phase_timing_of_a_small_program(tmp_path):
    program = tmp_path / "prog.py"
    program.write_text("import time\nimport json\nend = time.perf_counter() + 0.05\n"
                       "while time.perf_counter() < end:\n    pass\n")
    out = tmp_path / "phases.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "program_phases.py"), str(out),
                    str(program)], check=True, cwd=tmp_path)
    phases = json.loads(out.read_text())
    assert phases["other"] >= 0.04            # the busy loop: the program's own Python
    assert "imports" in phases and phases["_seen"] >= phases["other"]
