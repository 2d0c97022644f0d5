"""Hypothesis profiles for the fuzz suite and its report.

Profiles (registered in :mod:`tests.fuzz.harness`, applied to the fuzz campaigns only, so other
tests keep hypothesis' defaults):

* ``ci`` (default): fixed seed (``derandomize=True``, no example database), >= 1,000 cases per
  file kind, part of the default ``pytest`` run;
* ``nightly``: >= 10,000 cases per file kind, a fresh random seed each run (or ``FUZZ_SEED``),
  and the long fault-injection run: ``FUZZ_PROFILE=nightly pytest tests/fuzz``.

``FUZZ_REPORT=path.json`` writes the per-campaign figures (cases, outcomes, times, memory).
"""
import json
import os

import pytest

from tests.fuzz import harness


@pytest.fixture(autouse=True)
def _fuzz_fault_handler():
    """A C-level hang cannot be interrupted by the per-case SIGALRM guard: dump every thread's
    stack and end the run instead of hanging CI forever."""
    import faulthandler

    faulthandler.dump_traceback_later(1800 if harness.PROFILE_NAME == "nightly" else 600,
                                      exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def _kinds():
    kinds = {}
    for name, s in harness.STATS.items():
        k = kinds.setdefault(s["kind"], {"cases": 0, "campaigns": [], "seconds": 0.0,
                                         "unexpected": 0})
        k["cases"] += s["cases"]
        k["seconds"] += s["seconds"]
        k["campaigns"].append(name)
    return kinds


def pytest_terminal_summary(terminalreporter):
    if not harness.STATS and not getattr(harness, "FAULT_STATS", None):
        return
    tr = terminalreporter
    tr.section(f"fuzz campaigns (profile {harness.PROFILE_NAME})")
    for name, s in harness.STATS.items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items()))
        tr.write_line(f"{name:34s} {s['cases']:6d} cases {s['seconds']:6.1f} s  max case "
                      f"{s['max_case_s'] * 1000:7.1f} ms  max RSS growth "
                      f"{s['max_growth_bytes'] / 2**20:6.1f} MiB  [{outcomes}]")
    for kind, k in sorted(_kinds().items()):
        tr.write_line(f"kind {kind:14s} {k['cases']:6d} cases in {k['seconds']:6.1f} s")
    fault = getattr(harness, "FAULT_STATS", None)
    if fault:
        tr.section("fault injection")
        for command, f in sorted(fault.items()):
            tr.write_line(f"{command:18s} kills {f['kills']:3d} (SIGKILL {f['SIGKILL']}, SIGINT "
                          f"{f['SIGINT']}; {f['not_killed']} finished first), partial files "
                          f"{f['partial']}, leftover temp files {f['temp_left']}, reruns ok "
                          f"{f['reruns_ok']}, rerun/resume mismatches {f['mismatches']} "
                          f"[run {f.get('ref_seconds', 0):.2f} s, {f.get('ref_events')} file "
                          "events]")
        total = sum(f["kills"] for f in fault.values())
        tr.write_line(f"total kill points {total}, partial files "
                      f"{sum(f['partial'] for f in fault.values())}, mismatches "
                      f"{sum(f['mismatches'] for f in fault.values())}")
    path = os.environ.get("FUZZ_REPORT")
    if path:
        doc = {"profile": harness.PROFILE_NAME, "campaigns": {
            n: dict(s, outcomes=dict(s["outcomes"])) for n, s in harness.STATS.items()},
            "kinds": _kinds(), "fault_injection": fault or {}}
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
