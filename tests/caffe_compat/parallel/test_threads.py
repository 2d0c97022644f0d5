"""The thread policy (caffe_compat.parallel.threads): cgroup quotas, /proc/stat windows, hysteresis, the
wait-policy default, the small-net rule, and a real busy loop of higher priority."""
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch

from caffe_compat.parallel import threads


def test_cpu_max_parsing():
    assert threads.parse_cpu_max("max 100000\n") is None
    assert threads.parse_cpu_max("150000 100000\n") == 1.5
    assert threads.parse_cpu_max("200000") == 2.0          # the period defaults to 100 ms
    assert threads.parse_cfs("-1\n", "100000\n") is None
    assert threads.parse_cfs("50000\n", "100000\n") == 0.5


def test_cgroup_quota_v2_takes_the_smallest_ancestor():
    files = {"/proc/self/cgroup": "0::/a/b\n",
             "/cg/a/b/cpu.max": "max 100000\n",
             "/cg/a/cpu.max": "250000 100000\n",
             "/cg/cpu.max": "400000 100000\n"}

    def read(path):
        if path not in files:
            raise FileNotFoundError(path)
        return files[path]
    assert threads.cgroup_quota("/cg", "/proc/self/cgroup", read) == 2.5


def test_cgroup_quota_v1_and_none():
    files = {"/proc/self/cgroup": "4:memory:/x\n2:cpu,cpuacct:/job\n",
             "/cg/cpu,cpuacct/job/cpu.cfs_quota_us": "150000\n",
             "/cg/cpu,cpuacct/job/cpu.cfs_period_us": "100000\n",
             "/cg/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
             "/cg/cpu,cpuacct/cpu.cfs_period_us": "100000\n"}

    def read(path):
        if path not in files:
            raise FileNotFoundError(path)
        return files[path]
    assert threads.cgroup_quota("/cg", "/proc/self/cgroup", read) == 1.5
    assert threads.cgroup_quota("/cg", "/proc/self/cgroup", lambda p: "0::/\n"
                                if p == "/proc/self/cgroup" else (_ for _ in ()).throw(
                                    FileNotFoundError(p))) is None


def test_proc_stat_counts_the_allowed_cpus_and_leaves_nice_out():
    text = ("cpu  10 20 30 40 0 0 0 0 0 0\n"
            "cpu0 1 100 2 50 3 4 5 6 0 0\n"
            "cpu1 1000 0 0 0 0 0 0 0 0 0\n"
            "intr 5\n")
    # cpu0 only: user 1 + system 2 + irq 4 + softirq 5 + steal 6; all columns 171
    assert threads.parse_proc_stat(text, [0]) == (18, 171)
    assert threads.parse_proc_stat(text, [0], own_niced=True) == (118, 171)
    assert threads.parse_proc_stat(text, [0, 1]) == (1018, 1171)


class FakeMachine:
    """Two CPUs at 100 ticks a second; ``others`` and ``own`` cores busy from now on."""

    def __init__(self, ncpu=2):
        self.t, self.ncpu = 0.0, ncpu
        self.busy = 0.0            # competing ticks so far
        self.own = 0.0             # our CPU seconds so far
        self.others, self.ours = 0.0, 0.0

    def advance(self, dt):
        self.t += dt
        self.busy += (self.others + self.ours) * dt * 100
        self.own += self.ours * dt

    def stat(self):
        total = int(self.t * 100 * self.ncpu)
        busy = int(self.busy)
        return "".join(f"cpu{c} {busy if c == 0 else 0} 0 0 "
                       f"{(total // self.ncpu) - (busy if c == 0 else 0)} 0 0 0 0 0 0\n"
                       for c in range(self.ncpu))

    def monitor(self, **kw):
        kw.setdefault("runnable", lambda: 0)
        return threads.CoreMonitor(read_stat=self.stat, own_cpu=lambda: self.own,
                                   clock=lambda: self.t, cpus=lambda: list(range(self.ncpu)),
                                   quota=lambda: None, niced=lambda: False, ticks_per_s=100,
                                   **kw)


def test_monitor_drops_at_once_and_recovers_after_two_windows():
    m = FakeMachine()
    mon = m.monitor()
    m.ours = 2.0
    m.advance(0.3)
    assert mon.check() == 2                     # our own time is not a load
    m.others, m.ours = 1.0, 1.0                 # a busy loop takes a core
    m.advance(0.3)
    assert mon.check() == 1 and mon.held == 1   # one window: down at once
    m.others = 0.0
    m.advance(0.3)
    assert mon.check() == 1                     # the first quiet window is not enough
    m.advance(0.3)
    assert mon.check() == 2                     # the second brings the thread back


def test_monitor_hysteresis_threshold_and_lazy_checks():
    m = FakeMachine()
    mon = m.monitor()
    m.others = threads.HELD_FRACTION - 0.1      # below the threshold: the core is ours
    m.advance(0.3)
    assert mon.check() == 2
    m.others = threads.HELD_FRACTION + 0.1
    m.advance(0.1)
    assert mon.check() == 2                     # within CHECK_INTERVAL_S: no new sample
    m.advance(0.2)
    assert mon.check() == 1
    m.others = 4.0                              # never below one thread
    m.advance(0.3)
    assert mon.check() == 1


def test_after_an_idle_gap_runnable_threads_may_only_give_cores_back():
    # no pass for 10 s: the window since the last check tells what other processes did then,
    # not now. A core held before the pause comes back at once when nothing else is runnable
    # now; a thread runnable now takes no core (it may be a busy loop at nice 10, which the
    # scheduler makes give way): the next window decides
    m = FakeMachine()
    now = {"runnable": 0}
    mon = m.monitor(runnable=lambda: now["runnable"])
    m.others, m.ours = 1.0, 1.0                 # a neighbour holds a core
    m.advance(0.3)
    assert mon.check() == 1
    m.others, m.ours = 0.0, 0.0                 # ... and ends during a pause of ours
    m.advance(10.0)
    assert mon.check() == 2                     # nothing runnable now: the core comes back
    m.ours = 2.0
    m.advance(0.3)
    assert mon.check() == 2
    m.others, m.ours = 1.0, 0.0                 # a neighbour starts during the next pause
    m.advance(10.0)
    now["runnable"] = 1
    assert mon.check() == 2                     # runnable now: no decision from that alone
    m.ours = 1.0
    m.advance(0.3)
    assert mon.check() == 1                     # the first window takes its core
    m.others, m.ours = 1.0, 0.0                 # it is still there after a pause: it keeps it
    m.advance(10.0)
    assert mon.check() == 1


def test_a_long_window_of_our_own_work_decides():
    # a training step of several seconds between two checks is no pause: its window counts
    m = FakeMachine()
    mon = m.monitor()
    m.ours = 2.0
    m.advance(0.3)
    assert mon.check() == 2
    m.others, m.ours = 1.0, 1.0                 # a neighbour takes a core during a long step
    m.advance(4.0)
    assert mon.check() == 1
    m.others, m.ours = 0.0, 2.0                 # gone: two long windows give it back
    m.advance(4.0)
    assert mon.check() == 1
    m.advance(4.0)
    assert mon.check() == 2


def test_quota_caps_the_cores():
    m = FakeMachine(ncpu=4)
    mon = threads.CoreMonitor(read_stat=m.stat, own_cpu=lambda: m.own, clock=lambda: m.t,
                              cpus=lambda: [0, 1, 2, 3], quota=lambda: 1.5,
                              niced=lambda: False, ticks_per_s=100, runnable=lambda: 0)
    assert mon.check() == 2                     # 1.5 cores: two threads run most of the time


def test_unreadable_stat_falls_back_to_the_allowed_cores():
    def broken():
        raise OSError("no /proc")
    mon = threads.CoreMonitor(read_stat=broken, cpus=lambda: [0, 1, 2], quota=lambda: None,
                              runnable=lambda: 0)
    assert mon.check() == 3


def test_before_the_first_window_runnable_threads_stand_for_held_cores():
    m = FakeMachine(ncpu=4)
    mon = m.monitor(runnable=lambda: 1)
    assert mon.check() == 3                     # one thread runnable besides us
    m.advance(0.3)
    assert mon.check() == 3                     # the window agrees on nothing held: one more
    m.advance(0.3)                              # window, and the core comes back
    assert mon.check() == 4
    assert m.monitor(runnable=lambda: 9).check() == 1


def test_wait_policy_default():
    env = {}
    assert threads.set_default_wait_policy(env, {}) is True
    assert env == {"GOMP_SPINCOUNT": threads.DEFAULT_SPINCOUNT}
    assert threads.set_default_wait_policy({"OMP_WAIT_POLICY": "ACTIVE"}, {}) is False
    assert threads.set_default_wait_policy({"GOMP_SPINCOUNT": "0"}, {}) is False
    env = {}
    assert threads.set_default_wait_policy(env, {"torch": torch}) is False and env == {}


def test_import_sets_the_spin_before_torch(tmp_path):
    code = "import os, caffe_compat, caffe_compat.net.core; print(os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == threads.DEFAULT_SPINCOUNT
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "None"         # the user's choice stands


@pytest.fixture(autouse=True)
def _policy_state_restored():
    """Each test starts from the record of a process whose policy has not run yet, and
    leaves the record and torch's count as they were."""
    saved, count = dict(threads._state), torch.get_num_threads()
    threads._state.update(applied=None, ceiling=None, override=None, chosen=None, small=False,
                          pass_count=None)
    yield
    threads._state.clear()
    threads._state.update(saved)
    torch.set_num_threads(count)


def test_a_count_put_back_ends_the_programs_change(monkeypatch):
    # the pattern of many programs: saved = get; set(k); ...; set(saved). A count the policy
    # had lowered for a busy neighbour is put back, not made the program's choice, and while
    # the change lasts the policy stays below k
    usable = {"n": 2}
    monkeypatch.setattr(threads, "usable_threads", lambda: usable["n"])
    torch.set_num_threads(3)
    assert threads.apply(10 ** 9) == 2          # a neighbour holds one of three cores
    saved = torch.get_num_threads()
    assert saved == 2
    torch.set_num_threads(1)                    # the program asks for one thread ...
    usable["n"] = 3                             # ... the neighbour leaves
    assert threads.apply(10 ** 9) == 1          # the program's 1 is the ceiling
    torch.set_num_threads(saved)                # put back: the change ends
    assert threads.max_threads() == 3
    assert threads.apply(10 ** 9) == 3          # the cores come back


def test_the_same_count_set_again_is_the_programs_choice_through_set_max_threads(monkeypatch):
    monkeypatch.setattr(threads, "usable_threads", lambda: 1)
    torch.set_num_threads(2)
    assert threads.apply(10 ** 9) == 1
    torch.set_num_threads(1)                    # torch's count was 1 already: not seen
    threads.set_max_threads(1)                  # said explicitly: the program's choice
    monkeypatch.setattr(threads, "usable_threads", lambda: 2)
    assert threads.apply(10 ** 9) == 1          # the neighbour left; the program's 1 holds


def test_a_limited_block_gives_the_policy_back(monkeypatch):
    monkeypatch.setattr(threads, "usable_threads", lambda: 1)
    torch.set_num_threads(2)
    assert threads.apply(10 ** 9) == 1
    before = dict(threads._state)
    with threads.limited(1):                    # the count torch has: a choice all the same
        monkeypatch.setattr(threads, "usable_threads", lambda: 2)
        assert threads.apply(10 ** 9) == 1
    assert threads._state == before and torch.get_num_threads() == 1
    assert threads.apply(10 ** 9) == 2          # the policy's own count again


def test_apply_in_another_thread_leaves_the_main_threads_record(monkeypatch):
    import threading
    monkeypatch.setattr(threads, "usable_threads", lambda: 2)
    torch.set_num_threads(2)
    assert threads.apply(10 ** 9) == 2
    before = dict(threads._state)
    got = []
    worker = threading.Thread(target=lambda: got.append(threads.apply(10)))
    worker.start()
    worker.join()
    assert got == [1] and threads._state == before
    assert torch.get_num_threads() == 2         # OpenMP's count is per thread


def test_apply_respects_the_users_count_and_small_work(monkeypatch):
    saved = torch.get_num_threads()
    monkeypatch.setattr(threads, "usable_threads", lambda: 8)
    try:
        torch.set_num_threads(2)
        assert threads.apply(10 ** 9) == 2      # never above the count the user set
        assert threads.apply(10) == 1           # a small pass: one thread
        assert torch.get_num_threads() == 1
        assert threads.apply(10 ** 9) == 2      # back to the ceiling
        torch.set_num_threads(1)                # the user's choice is the new ceiling
        assert threads.apply(10 ** 9) == 1
        monkeypatch.setattr(threads, "usable_threads", lambda: 1)
        torch.set_num_threads(2)
        assert threads.apply(10 ** 9) == 1      # another process holds a core
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(saved)
        threads._state["applied"] = None


def test_fixed_count_from_the_environment(monkeypatch):
    monkeypatch.setattr(threads, "_fixed", None)
    monkeypatch.setenv(threads.ENV_THREADS, "3")
    assert threads.usable_threads() == 3
    monkeypatch.setattr(threads, "_fixed", None)
    monkeypatch.setenv(threads.ENV_THREADS, "many")
    with pytest.raises(ValueError, match="CAFFE_COMPAT_THREADS"):
        threads.usable_threads()
    monkeypatch.setattr(threads, "_fixed", None)


def test_small_net_rule_from_set_up_shapes():
    import caffe_compat
    small = caffe_compat.Net("""name: "lr"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 10 dim: 20 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 2 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }""")
    largest, batch = threads.net_work(small)
    assert batch == 10 and largest == 10 * 2 * 20    # the InnerProduct: 10 x 2 outputs of 20
    big = caffe_compat.Net("""name: "conv"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 8 dim: 16 dim: 64 dim: 64 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 32 kernel_size: 3 pad: 1 } }""")
    largest, batch = threads.net_work(big)
    assert batch == 8 and largest == 8 * 32 * 64 * 64 * 16 * 9
    assert largest > threads.SMALL_WORK > threads.net_work(small)[0]


def _spin_loop_command():
    return ["taskset", "-c", "1", "nice", "-n", "-5", sys.executable, "-c", "while True: pass"]


@pytest.mark.skipif(not shutil.which("taskset") or len(threads.affinity()) < 2
                    or 1 not in threads.affinity(), reason="needs taskset and CPUs 0 and 1")
def test_a_busy_loop_of_higher_priority_takes_a_thread_away():
    """A busy loop pinned to CPU 1 at nice -5 (root can raise priority) makes the usable count
    drop within a second and come back within three after it stops."""
    if os.geteuid() != 0:
        pytest.skip("nice -5 needs root")
    mon = threads.CoreMonitor()
    hog = subprocess.Popen(_spin_loop_command())
    try:
        deadline = time.monotonic() + 1.0          # four windows of 0.25 s
        while mon.held < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
            mon.check()
        assert mon.held >= 1, f"others used {mon.others:.2f} cores"
        assert mon.check() <= mon.cores - 1
        held_during = mon.held
    finally:
        hog.kill()
        hog.wait()
    deadline = time.monotonic() + 3.0
    while mon.held >= held_during and time.monotonic() < deadline:
        time.sleep(0.05)
        mon.check()
    # the core comes back, unless other work on a shared machine still holds one
    assert mon.held < held_during or mon.others >= threads.HELD_FRACTION, \
        f"others used {mon.others:.2f} cores"


def test_per_layer_threads_in_the_compiled_inference_run(monkeypatch):
    """Small layers run on one thread inside a two-thread forward, large products on two;
    the outputs are the same bits either way, and torch's count is the pass's afterwards."""
    import caffe_compat
    net = caffe_compat.Net("""name: "mixed"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 16 dim: 32 dim: 32 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 32 kernel_size: 3 pad: 1 weight_filler { type: "xavier" } } }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param { pool: MAX kernel_size: 8 stride: 8 } }
layer { name: "prob" type: "Softmax" bottom: "pool" top: "prob" }""", seed=1)
    net.eval()
    x = torch.rand(2, 16, 32, 32)
    monkeypatch.setattr(threads, "usable_threads", lambda: 2)
    monkeypatch.setattr(threads, "PER_LAYER", True)      # off by default (see its comment)
    saved = torch.get_num_threads()
    seen = []
    real = torch.set_num_threads
    pass_threads = threads.set_pass_threads

    def spy(n):
        seen.append(n)
        pass_threads(n)
    try:
        real(2)
        with torch.inference_mode():
            plain = net.forward(data=x)["prob"].clone()
            monkeypatch.setattr(threads, "set_pass_threads", spy)
            per_layer = net.forward(data=x)["prob"].clone()
            monkeypatch.setattr(threads, "PER_LAYER", False)
            whole = net.forward(data=x)["prob"].clone()
        assert torch.get_num_threads() == 2
    finally:
        real(saved)
        threads._state["applied"] = None
    assert torch.equal(plain, per_layer) and torch.equal(plain, whole)
    # the convolution (2 x 32 x 32 x 32 outputs of 144 multiply-adds) on two threads, the
    # pooling and softmax after it on one, then the pass's two again
    assert 1 in seen and seen[-1] == 2, seen


class HeldMonitor:
    """A monitor that says ``held`` of ``cores`` cores are held by other processes."""

    def __init__(self, cores=2, held=1):
        self.cores, self.held = cores, held

    def check(self):
        return max(1, self.cores - self.held)


@pytest.fixture
def crowded_setting(monkeypatch):
    """The policy in auto mode on two cores, one held; no count from the environment."""
    monkeypatch.setattr(threads, "_fixed", 0)
    monkeypatch.setattr(threads, "_monitor", HeldMonitor())
    monkeypatch.setattr(threads, "_default_count", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    torch.set_num_threads(2)                    # torch's default count, not a program's call
    return threads._monitor


def test_crowded_count_while_a_core_is_held(crowded_setting):
    assert threads.apply(10 ** 9) == 1          # the usable count
    assert threads.crowded_count() == 4         # the cores plus two
    crowded_setting.held = 2
    assert threads.crowded_count() == 4         # the same pair however many are held
    crowded_setting.held = 0
    assert threads.crowded_count() == 0         # nothing held: nothing to measure
    crowded_setting.cores, crowded_setting.held = 8, 3
    assert threads.crowded_count() == 10


def test_no_crowded_count_for_small_work_or_a_worker_thread(crowded_setting):
    import threading
    threads.apply(10)                           # small work: one thread, always
    assert threads.crowded_count() == 0
    threads.apply(10 ** 9)
    got = []
    worker = threading.Thread(target=lambda: got.append(threads.crowded_count()))
    worker.start()
    worker.join()
    assert got == [0]                           # a pool's worker shares the cores already
    assert threads.crowded_count() == 4


def test_no_crowded_count_above_the_programs_count(crowded_setting, monkeypatch):
    threads.apply(10 ** 9)
    torch.set_num_threads(2)                    # the program's own count is its ceiling
    assert threads.crowded_count() == 0
    torch.set_num_threads(3)
    assert threads.crowded_count() == 0


def test_a_count_put_back_gives_the_crowded_count_back(crowded_setting):
    threads.apply(10 ** 9)
    saved = torch.get_num_threads()
    torch.set_num_threads(2)                    # a block at two threads (a benchmark's peer)
    assert threads.crowded_count() == 0
    torch.set_num_threads(saved)                # put back: the policy's own count again
    assert threads.crowded_count() == 4
    with threads.limited(saved):                # a block at the policy's own count
        assert threads.crowded_count() == 0
    assert threads.crowded_count() == 4


def test_no_crowded_count_with_a_count_from_the_environment(crowded_setting, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    threads.apply(10 ** 9)
    assert threads.crowded_count() == 0


def test_no_crowded_count_with_a_fixed_count(crowded_setting, monkeypatch):
    monkeypatch.setattr(threads, "_fixed", 2)
    threads.apply(10 ** 9)
    assert threads.crowded_count() == 0


def test_a_pass_count_above_the_ceiling(crowded_setting):
    """A measured iteration's count (pass_count) is used as it is, above the ceiling; small
    work stays on one thread; the count ends with the block."""
    with threads.pass_count(4):
        assert threads.apply(10 ** 9) == 4
        assert threads.apply(10) == 1
    assert threads.apply(10 ** 9) == 1
    assert threads.max_threads() == 2


def test_kernel_threads_take_the_crowded_count_while_a_core_is_held(crowded_setting):
    """The compiled kernels' units are taken in turn: more threads than cores cost nothing
    there, so they run on the crowded count while torch's operators stay on the usable one."""
    assert threads.apply(10 ** 9) == 1
    assert threads.kernel_threads() == 4
    crowded_setting.held = 0
    threads.apply(10 ** 9)
    assert threads.kernel_threads() == 2        # idle: the cores allowed


def test_kernel_threads_keep_torchs_count_for_a_small_call_while_a_core_is_held(
        crowded_setting):
    """A call too small to make up for a unit waiting on the held core keeps torch's count;
    idle, the size does not matter."""
    assert threads.apply(10 ** 9) == 1
    assert threads.kernel_threads(threads.CROWDED_KERNEL_WORK - 1) == 1
    assert threads.kernel_threads(threads.CROWDED_KERNEL_WORK) == 4
    crowded_setting.held = 0
    threads.apply(10 ** 9)
    assert threads.kernel_threads(1000) == 2


def test_kernel_threads_keep_torchs_count_for_small_work_a_worker_or_the_programs(
        crowded_setting):
    import threading
    threads.apply(10)
    assert threads.kernel_threads() == 1        # small work: one thread
    threads.apply(10 ** 9)
    got = []
    worker = threading.Thread(
        target=lambda: got.append((threads.kernel_threads(), torch.get_num_threads())))
    worker.start()
    worker.join()
    assert got[0][0] == got[0][1]               # a pool's worker: its own torch count
    threads.set_max_threads(1)                  # the program's own count (torch has 1)
    threads.apply(10 ** 9)
    assert threads.kernel_threads() == 1


def test_kernel_threads_follow_a_fixed_count(crowded_setting, monkeypatch):
    monkeypatch.setattr(threads, "_fixed", 3)
    threads.apply(10 ** 9)
    assert threads.kernel_threads() == torch.get_num_threads()
