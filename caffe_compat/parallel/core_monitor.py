"""The cores this process can get, and those other processes hold (:class:`CoreMonitor`): what
:mod:`caffe_compat.parallel.threads` sets torch's thread count from (the rules: its doc and
docs/threads.md)."""
from __future__ import annotations

import math
import os
import threading
import time

from .placement import process_cpus

CHECK_INTERVAL_S = 0.25      # a window of /proc/stat: 25 clock ticks per core at 100 Hz
# others busy a quarter of a core over a window: the core is held. Low, because the costs are
# lopsided (docs/threads.md): a core taken a fifth of the time already makes two threads
# slower on average than one
HELD_FRACTION = 0.25
# niced work of others this large (cores over a window) shares our cores: low, because a
# nice-10 loop gets only about a tenth of a core while our two threads keep both busy, yet
# still delays their wake-ups (pass_choice measures what that costs)
NICED_FRACTION = 0.05
RELEASE_WINDOWS = 2          # windows in a row with fewer cores held before threads come back
STALE_WINDOW_S = 1.0         # a longer window (no pass for a while) starts a new one, no decision


# ---- the cores allowed --------------------------------------------------------------------

def parse_cpu_max(text):
    """Cores allowed by a cgroup v2 ``cpu.max`` line (``"max 100000"`` or ``"150000
    100000"``), or None when unlimited."""
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    quota = int(fields[0])
    period = int(fields[1]) if len(fields) > 1 else 100000
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs(quota_text, period_text):
    """Cores allowed by cgroup v1's ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (a quota
    of -1: unlimited, None)."""
    quota, period = int(quota_text.strip()), int(period_text.strip())
    return quota / period if quota > 0 and period > 0 else None


def _read(path):
    with open(path) as f:
        return f.read()


def cgroup_quota(root="/sys/fs/cgroup", self_cgroup="/proc/self/cgroup", read=_read):
    """The smallest CPU quota (in cores) of this process's cgroup and its parents, as far as
    they are visible, or None when there is none. cgroup v2 and v1 alike."""
    try:
        lines = read(self_cgroup).splitlines()
    except OSError:
        lines = []
    v2, v1 = None, None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        elif "cpu" in parts[1].split(","):
            v1 = (parts[1], parts[2])
    quotas = []

    def ancestors(path):
        path = path.strip() or "/"
        while True:
            yield path
            if path in ("/", ""):
                return
            path = path.rsplit("/", 1)[0] or "/"

    def add(parse, folder, *names):       # the quota of the files ``names`` of ``folder``
        try:
            q = parse(*(read(os.path.join(folder, name)) for name in names))
        except (OSError, ValueError):
            return
        if q is not None:
            quotas.append(q)

    if v2 is not None:
        for rel in ancestors(v2):
            add(parse_cpu_max, os.path.join(root, rel.lstrip("/")), "cpu.max")
    if v1 is not None:
        for mount in (v1[0], "cpu", "cpu,cpuacct"):
            for rel in ancestors(v1[1]):
                add(parse_cfs, os.path.join(root, mount, rel.lstrip("/")), "cpu.cfs_quota_us",
                    "cpu.cfs_period_us")
    return min(quotas) if quotas else None


def affinity():
    """The CPUs this process may run on (all of them where the platform cannot tell): its
    mask, also while a placed pass pins the main thread to one CPU
    (:func:`caffe_compat.parallel.placement.process_cpus`)."""
    if hasattr(os, "sched_getaffinity"):
        return process_cpus()
    return list(range(os.cpu_count() or 1))


# ---- the cores held by others -------------------------------------------------------------

def _cpu_rows(text, cpus):
    """The eight tick counts (user, nice, system, idle, iowait, irq, softirq, steal) of each
    of ``cpus``' lines of ``/proc/stat``."""
    wanted = {f"cpu{c}" for c in cpus}
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        fields = line.split()
        if fields[0] in wanted:
            yield [int(x) for x in fields[1:9]] + [0] * max(0, 9 - len(fields))


def parse_proc_stat(text, cpus, own_niced=False):
    """(ticks busy with work that competes with ours, ticks in all) summed over ``cpus`` from
    the per-CPU lines of ``/proc/stat``. Competing: user, system, irq, softirq, steal; nice
    (positive nice values) only when this process is niced itself."""
    busy = total = 0
    for user, nice, system, idle, iowait, irq, softirq, steal in \
            (v[:8] for v in _cpu_rows(text, cpus)):
        busy += user + system + irq + softirq + steal + (nice if own_niced else 0)
        total += user + nice + system + idle + iowait + irq + softirq + steal
    return busy, total


def niced_ticks(text, cpus):
    """Ticks of work at a positive nice value (``/proc/stat``'s ``nice`` column) summed over
    ``cpus``."""
    return sum(v[1] for v in _cpu_rows(text, cpus))


def _read_proc_stat():
    with open("/proc/stat", "rb") as f:
        return f.read().decode("ascii", "replace")


def _own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def own_running_threads(task_dir="/proc/self/task"):
    """Threads of this process running or runnable right now (state ``R`` in their
    ``stat``), the caller included; 1 where it cannot be read."""
    count = 0
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return 1
    for tid in tasks:
        try:
            with open(os.path.join(task_dir, tid, "stat"), "rb") as f:
                text = f.read()
        except OSError:
            continue                      # the thread has ended
        fields = text.rsplit(b")", 1)[-1].split()
        count += bool(fields) and fields[0] == b"R"
    return max(1, count)


def _runnable_others():
    """Threads of other processes runnable right now: /proc/loadavg's fourth field (every
    runnable thread of the system) less this process's own (:func:`own_running_threads`:
    another library's spinning pool in this process holds no core from us), or 0 where it
    cannot be read."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - own_running_threads())


def _own_niced():
    try:
        return os.getpriority(os.PRIO_PROCESS, 0) > 0
    except (AttributeError, OSError):
        return False


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CoreMonitor:
    """Counts the cores held by other processes from two samples of ``/proc/stat`` (see the
    module's text); every source is injectable for tests."""

    def __init__(self, read_stat=_read_proc_stat, own_cpu=_own_cpu_seconds,
                 clock=time.monotonic, cpus=affinity, quota=cgroup_quota, niced=_own_niced,
                 interval=CHECK_INTERVAL_S, held_fraction=HELD_FRACTION,
                 release_windows=RELEASE_WINDOWS, ticks_per_s=_TICKS,
                 runnable=_runnable_others, stale=STALE_WINDOW_S):
        self.read_stat, self.own_cpu, self.clock = read_stat, own_cpu, clock
        self.cpus_source, self.quota_source, self.niced = cpus, quota, niced
        self.interval, self.held_fraction = interval, held_fraction
        self.release_windows, self.ticks_per_s = release_windows, ticks_per_s
        self.stale = stale
        self.runnable = runnable
        self.lock = threading.Lock()
        self.quota = None
        self.quota_read = False
        self.held = 0                # cores held by others, as last decided
        self.others = 0.0            # cores others used over the last window
        # cores that work at a positive nice value used over the last window (0 when we are
        # niced ourselves: then it is counted in ``others``), and whether such work shares
        # our cores (set at once, cleared after RELEASE_WINDOWS windows without)
        self.niced_others = 0.0
        self.contested = False
        self.quiet_windows = 0
        self.lower_windows = 0
        self.last = None             # (time, busy ticks, total ticks, own seconds, cpus, nice)
        self.next_check = 0.0
        self.cores = 1
        self.usable = 1
        self._sample(self.clock())
        # until the first window has passed, the threads runnable right now stand for the
        # cores held (a busy neighbour is there before our first forward)
        self.held = self._runnable_held()
        self.usable = max(1, self.cores - self.held)

    def _runnable_held(self):
        """The cores held as the threads runnable besides us right now say."""
        return max(0, min(self.cores - 1, self.runnable()))

    def _sample(self, now):
        cpus = self.cpus_source()
        if not self.quota_read:      # the quota is a set-up of the container: read it once
            try:
                self.quota = self.quota_source()
            except (OSError, ValueError):
                self.quota = None
            self.quota_read = True
        self.cores = len(cpus) if self.quota is None else \
            min(len(cpus), math.ceil(self.quota - 1e-9))
        self.cores = max(1, self.cores)
        try:
            text = self.read_stat()
            own_niced = self.niced()
            busy, total = parse_proc_stat(text, cpus, own_niced)
            nice = 0 if own_niced else niced_ticks(text, cpus)
        except (OSError, ValueError):
            self.last = None
            self.usable = self.cores
            return
        own = self.own_cpu()
        if self.last is not None and tuple(self.last[4]) == tuple(cpus):
            t0, busy0, total0, own0, _, nice0 = self.last
            elapsed = now - t0
            # a long window in which this process hardly ran (a pause) tells what other
            # processes did then, not now: it only starts a new window, and cores held before
            # the pause come back at once if nothing else is runnable now (see the module doc);
            # a long window of our own work (a CNN+D step of seconds between two checks) decides
            if elapsed > self.stale and (own - own0) < 0.5 * elapsed:
                runnable_now = self._runnable_held()
                if runnable_now < self.held:
                    self.held, self.lower_windows = runnable_now, 0
                if not self.runnable():      # niced work that ended during the pause
                    self.contested, self.quiet_windows = False, 0
            elif 0 < elapsed and total > total0:
                ncpu = len(cpus)
                # the window's length from the ticks themselves (all CPUs tick together)
                window = (total - total0) / (self.ticks_per_s * ncpu)
                others = ((busy - busy0) / self.ticks_per_s - (own - own0)) / max(window, 1e-3)
                self.others = max(0.0, others)
                self._decide(int(self.others + (1.0 - self.held_fraction)))
                self.niced_others = max(0.0, (nice - nice0) / self.ticks_per_s) / \
                    max(window, 1e-3)
                self._contest(self.niced_others >= NICED_FRACTION)
        self.last = (now, busy, total, own, list(cpus), nice)
        self.usable = max(1, self.cores - self.held)

    def _decide(self, held_now):
        if held_now >= self.held:
            self.held = held_now     # threads go down at once
            self.lower_windows = 0
            return
        self.lower_windows += 1
        if self.lower_windows >= self.release_windows:
            self.held = held_now
            self.lower_windows = 0

    def _contest(self, now):
        if now:
            self.contested, self.quiet_windows = True, 0
            return
        self.quiet_windows += 1
        if self.quiet_windows >= self.release_windows:
            self.contested = False

    def check(self):
        """The usable thread count, sampling again when the last window is long enough."""
        now = self.clock()
        if now >= self.next_check:
            with self.lock:
                if now >= self.next_check:
                    self._sample(now)
                    self.next_check = now + self.interval
        return self.usable
