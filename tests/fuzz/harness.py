"""The fuzz harness: profiles, the per-case guards (wall clock, memory) and the case counts.

A campaign runs one hypothesis-driven property over one file kind. Each case must end in a
result or in the documented exception type of the package (``CaffeCompatError`` for
caffe_compat, ``PortError`` for matlab_ports) whose message names the file; any other exception,
a case running past the wall-clock guard, or a peak-RSS growth over the memory bound fails the
test (and hypothesis shrinks the input).

Memory bound, per case: peak RSS growth <= ``MEM_FACTOR`` x input size + ``MEM_CONSTANT``
(measured with Linux's resettable high-water mark, ``/proc/self/clear_refs`` + ``VmHWM``). The
first case of a campaign over the bound is measured again: what a library allocates at its
first use in the process (decoder tables, thread pools: 38-45 MiB on a 2-core Intel Xeon with
AVX-512, under 32 on the AMD machines) is not the case's; any later case over it fails.

Profiles (``FUZZ_PROFILE`` env var): ``ci`` (default; fixed seed via ``derandomize``, >= 1,000
cases per file kind) and ``nightly`` (>= 10,000 per kind, random seed unless ``FUZZ_SEED``).
``FUZZ_CASES`` overrides the per-kind case count of the profile.
"""
from __future__ import annotations

import collections
import contextlib
import datetime
import math
import os
import re
import signal
import time
import warnings

from hypothesis import HealthCheck, given, seed, settings

PROFILE_CASES = {"ci": 1000, "nightly": 10000}
PROFILE_NAME = os.environ.get("FUZZ_PROFILE", "ci")
if PROFILE_NAME not in PROFILE_CASES:
    raise RuntimeError(f"FUZZ_PROFILE={PROFILE_NAME!r}: expected one of {sorted(PROFILE_CASES)}")
CASES_PER_KIND = int(os.environ.get("FUZZ_CASES", PROFILE_CASES[PROFILE_NAME]))

# Hypothesis deadline per case (a case normally takes milliseconds; the margin absorbs a loaded
# shared machine) and the hard wall-clock guard that turns a hang into a failing case.
DEADLINE = datetime.timedelta(seconds=10)
WALL_CLOCK_S = 30.0
MEM_FACTOR = 16
MEM_CONSTANT = 32 * 2**20

_COMMON = dict(database=None, deadline=DEADLINE, print_blob=True,
               suppress_health_check=list(HealthCheck))
settings.register_profile("ci", derandomize=True, max_examples=PROFILE_CASES["ci"], **_COMMON)
settings.register_profile("nightly", derandomize=False, max_examples=PROFILE_CASES["nightly"],
                          **_COMMON)

# campaign name -> stats (filled as tests run; printed by conftest's terminal summary)
STATS = collections.OrderedDict()


class CaseHang(Exception):
    """A case ran past the wall-clock guard. Code under test that swallows it (a broad
    ``except Exception``) does not hide the hang: the case's run time is checked afterwards."""


# --------------------------------------------------------------------------------------------
# Memory high-water mark

_STATUS_RE = {k: re.compile(rf"^{k}:\s+(\d+) kB", re.M) for k in ("VmHWM", "VmRSS")}


def _status():
    with open("/proc/self/status") as f:
        text = f.read()
    return {k: int(r.search(text).group(1)) * 1024 for k, r in _STATUS_RE.items()}


def _reset_peak():
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


HAVE_PEAK_RESET = os.path.exists("/proc/self/clear_refs") and _reset_peak()


@contextlib.contextmanager
def peak_rss_growth():
    """Yields a dict whose ``growth`` is set to the peak RSS growth (bytes) of the block."""
    out = {"growth": 0}
    if HAVE_PEAK_RESET:
        _reset_peak()
    before = _status()
    try:
        yield out
    finally:
        after = _status()
        base = before["VmRSS"] if HAVE_PEAK_RESET else before["VmHWM"]
        out["growth"] = max(0, after["VmHWM"] - base)


@contextlib.contextmanager
def wall_clock_guard(limit_s):
    """Raise CaseHang in the main thread when the block runs longer than ``limit_s``."""
    def _fire(signum, frame):
        raise CaseHang(f"case still running after {limit_s:g} s (hang?)")

    old = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------------------------
# Campaigns

class Campaign:
    """One property over one file kind.

    ``documented``: the exception type(s) allowed to end a case. ``names``: substrings of which
    one must appear in a documented exception's message (the file or source name).
    ``share``: this campaign's part of the kind's case count (a kind fuzzed by two campaigns
    gives each a share; the shares of a kind add up to at least 1).
    """

    def __init__(self, kind, name, documented, names, share=1.0, mem_factor=MEM_FACTOR,
                 mem_constant=MEM_CONSTANT):
        self.kind = kind
        self.name = name
        self.documented = documented
        self.names = [n for n in names if n]
        self.cases = max(1, math.ceil(CASES_PER_KIND * share))
        self.mem_factor = mem_factor
        self.mem_constant = mem_constant
        self.stats = {"kind": kind, "profile": PROFILE_NAME, "target": self.cases, "cases": 0,
                      "outcomes": collections.Counter(), "max_case_s": 0.0,
                      "max_growth_bytes": 0, "max_input_bytes": 0, "seconds": 0.0,
                      "warmed": False}

    def _measured(self, body, value):
        """``body(value)`` under the guards: (size or None, outcome, the memory record)."""
        size, outcome = None, "ok"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with peak_rss_growth() as mem, wall_clock_guard(WALL_CLOCK_S):
                try:
                    size = body(value)
                except self.documented as exc:
                    outcome = type(exc).__name__
                    self._check_text(exc)
        return size, outcome, mem

    def settings(self):
        return settings(settings.get_profile(PROFILE_NAME), max_examples=self.cases)

    def run(self, strategy, body):
        """Run ``body(case)`` over ``strategy``; ``body`` returns the input size in bytes (or
        None: ``len(case)``)."""
        stats = self.stats

        @self.settings()
        @given(strategy)
        def case(value):
            stats["cases"] += 1
            t0 = time.perf_counter()
            size = None
            outcome = "ok"
            size, outcome, mem = self._measured(body, value)
            if size is None:
                size = len(value) if hasattr(value, "__len__") else 0
            elapsed = time.perf_counter() - t0
            assert elapsed < WALL_CLOCK_S, f"case ran {elapsed:.1f} s (hang?)"
            bound = self.mem_factor * size + self.mem_constant
            if mem["growth"] > bound and not self.stats["warmed"]:
                # the campaign's first case over the bound runs again: a library's first use
                # (image decoders, thread pools) is paid once per process, not per case;
                # a case's own growth comes back on its second run
                self.stats["warmed"] = True
                size2, outcome, mem = self._measured(body, value)
                size = size if size2 is None else size2
            stats["outcomes"][outcome] += 1
            stats["max_case_s"] = max(stats["max_case_s"], elapsed)
            stats["max_growth_bytes"] = max(stats["max_growth_bytes"], mem["growth"])
            stats["max_input_bytes"] = max(stats["max_input_bytes"], size)
            assert mem["growth"] <= bound, (
                f"peak RSS grew by {mem['growth'] / 2**20:.1f} MiB for a {size}-byte input "
                f"(bound {bound / 2**20:.1f} MiB)")

        fuzz_seed = os.environ.get("FUZZ_SEED")
        if fuzz_seed and PROFILE_NAME != "ci":
            case = seed(int(fuzz_seed))(case)
        t0 = time.monotonic()
        STATS[self.name] = stats
        try:
            case()
        finally:
            stats["seconds"] = time.monotonic() - t0
        # hypothesis may stop early only if the strategy's space is exhausted: count it
        assert stats["cases"] >= self.cases, (
            f"{self.name}: only {stats['cases']} cases ran, {self.cases} wanted")
        return stats

    def check_message(self, exc):
        """Check a documented exception's message (and count it, for bodies that handle
        several reads per case)."""
        self.stats["outcomes"][f"(inner) {type(exc).__name__}"] += 1
        self._check_text(exc)

    def _check_text(self, exc):
        text = str(exc)
        assert text.strip(), f"{type(exc).__name__} with an empty message"
        assert any(n in text for n in self.names), (
            f"{type(exc).__name__} message does not name the file ({self.names}): {text[:300]}")
