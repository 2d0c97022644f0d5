"""The thread count of inference passes while niced work shares our cores: measured per net
and input shape (caffe_compat.parallel.pass_choice), and the monitor's niced-work reading it
starts from (caffe_compat.parallel.threads.CoreMonitor)."""
import numpy as np
import torch

from caffe_compat import Net
from caffe_compat.parallel import pass_choice, threads
from caffe_compat.parallel.pass_choice import HOLD_PASSES, KEEP, TRIAL_PASSES, PassChoice


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def run(choice, clock, usable, niced, seconds_for, crowded=0):
    """One pass: the count the choice gives, timed by ``seconds_for(count)``; returns it."""
    n = choice.count(usable, niced, crowded)
    start = clock.t
    clock.t += seconds_for(n)
    choice.record(n, start, clock.t)
    return n


def first_trial(times, usable=2, niced=0.9):
    """A choice and its clock after the first trial of both counts, passes timed by
    ``times`` (count -> seconds, read at each pass)."""
    clock = Clock()
    choice = PassChoice(clock)
    for _ in range(2 * (TRIAL_PASSES + 1)):
        run(choice, clock, usable, niced, lambda n: times[n])
    return choice, clock


def test_without_niced_work_the_usable_count_and_no_trial():
    clock = Clock()
    choice = PassChoice(clock)
    assert [run(choice, clock, 2, 0.0, lambda n: 0.01) for _ in range(20)] == [2] * 20
    assert choice.best is None and not choice.trial
    assert run(choice, clock, 1, 0.8, lambda n: 0.01) == 1      # one usable: nothing to try


def test_both_counts_tried_then_the_faster_kept():
    clock = Clock()
    choice = PassChoice(clock)
    slow_on_two = {2: 0.030, 1: 0.020}.get
    counts = [run(choice, clock, 2, 0.9, slow_on_two) for _ in range(2 * (TRIAL_PASSES + 1))]
    # the smaller count first: a program that runs a few passes only spends them there
    assert counts == [1] * (TRIAL_PASSES + 1) + [2] * (TRIAL_PASSES + 1)
    assert choice.best == 1
    assert [run(choice, clock, 2, 0.9, slow_on_two) for _ in range(10)] == [1] * 10
    other, _ = first_trial({2: 0.010, 1: 0.020})
    assert other.best == 2
    # the first pass after a change of count is not counted: a slow first pass on 2 threads
    # does not decide
    assert len(other.times[2]) == TRIAL_PASSES


def test_the_larger_count_must_be_clearly_faster():
    # two threads 1.11x faster than one under a niced neighbour: one is kept (the larger
    # count's cost when the neighbour's core comes back late has no bound)
    choice, _ = first_trial({2: 0.018, 1: 0.020})
    assert choice.best == 1


def first_trial_of_passes(times):
    """:func:`first_trial` with each count's passes timed in turn from ``times`` (count ->
    list of seconds, cycled)."""
    clock = Clock()
    choice = PassChoice(clock)
    seen = {n: 0 for n in times}

    def seconds_for(n):
        seen[n] += 1
        return times[n][(seen[n] - 1) % len(times[n])]
    for _ in range(2 * (TRIAL_PASSES + 1)):
        run(choice, clock, 2, 0.9, seconds_for)
    return choice


def test_the_larger_count_is_scored_by_its_mean():
    # passes on two threads that vary (the first of a trial is not counted) but are faster
    # on average by more than the margin: two are kept, though the slowest is only 1.29x
    # faster than one thread's (measured: the CNN+D at batch 8 under a nice-10 loop)
    varying = [0.030, 0.030, 0.036, 0.045]
    assert 0.058 / max(varying) < 1.3
    assert first_trial_of_passes({2: varying, 1: [0.058]}).best == 2
    # a pass that waited long counts in full: two threads at 4 ms with one pass of 68 ms
    # (a mean of 25 ms) lose to one thread at 7.5 ms
    assert first_trial_of_passes({2: [0.004, 0.004, 0.004, 0.068], 1: [0.0075]}).best == 1


def test_the_other_count_is_tried_again_after_the_hold():
    times = {2: 0.030, 1: 0.020}
    choice, clock = first_trial(times)
    assert choice.best == 1
    held = [run(choice, clock, 2, 0.9, times.get) for _ in range(HOLD_PASSES)]
    assert held == [1] * HOLD_PASSES
    clock.t += pass_choice.HOLD_SECONDS                 # passes and seconds both spent
    times[2] = 0.010                                     # the neighbour has gone
    # the first pass after the gap is not counted and runs again
    retried = [run(choice, clock, 2, 0.9, times.get) for _ in range(TRIAL_PASSES + 2)]
    assert retried == [2] * (TRIAL_PASSES + 2)
    assert choice.best == 2
    assert run(choice, clock, 2, 0.9, times.get) == 2


def test_a_kept_count_that_gets_slower_gives_way_at_once():
    times = {2: 0.010, 1: 0.020}
    choice, clock = first_trial(times)
    assert choice.best == 2
    times[2] = 0.050                                     # a neighbour now takes its core
    counts = [run(choice, clock, 2, 0.9, times.get) for _ in range(KEEP + 2)]
    assert counts[-1] == 1 and choice.best == 1
    assert counts.index(1) <= KEEP                       # within KEEP passes, not the hold


def test_a_pass_after_a_gap_is_not_counted():
    clock = Clock()
    choice = PassChoice(clock)
    n = choice.count(2, 0.9)
    clock.t += 0.01
    choice.record(n, clock.t - 0.01, clock.t)
    before = list(choice.times.get(2, []))
    clock.t += 5.0                                       # another library ran meanwhile
    n = choice.count(2, 0.9)
    choice.record(n, clock.t, clock.t + 0.5)             # a cold pass: not counted
    assert choice.times.get(2, []) == before
    assert len(choice.trial) == 2 * (TRIAL_PASSES + 1) - 1   # still queued, run again


def test_passes_that_all_follow_gaps_are_measured():
    # a program with other work between every two forwards (a decoder, another library's
    # call): the first pass after a gap is not counted, the next ones are, and both counts
    # get measured (before, every pass stayed queued on the first count for good)
    clock = Clock()
    choice = PassChoice(clock)
    times = {2: 0.010, 1: 0.020}
    counts = []
    for _ in range(2 * (TRIAL_PASSES + 1) + 4):
        clock.t += 1.0                                   # the program's other work
        counts.append(run(choice, clock, 2, 0.9, times.get))
    assert set(choice.times) == {1, 2} and choice.best == 2
    assert counts[-1] == 2


def test_more_cores_try_the_count_left_by_the_niced_work():
    clock = Clock()
    choice = PassChoice(clock)
    first = [run(choice, clock, 8, 1.9, lambda n: 0.01) for _ in range(2 * (TRIAL_PASSES + 1))]
    assert set(first) == {8, 6}                          # two cores' worth of niced work


def crowded_trial(times):
    """A choice and its clock after the first hold on the usable count (1) and the first
    trial of the crowded count (4) while a core is held."""
    clock = Clock()
    choice = PassChoice(clock)
    counts = []
    while len(counts) < HOLD_PASSES or counts[-1] == 1:      # the hold, then the trial
        counts.append(run(choice, clock, 1, 0.0, lambda n: times[n], crowded=4))
        assert len(counts) < 10 * HOLD_PASSES
    for _ in range(TRIAL_PASSES):
        counts.append(run(choice, clock, 1, 0.0, lambda n: times[n], crowded=4))
    return choice, clock, counts


def test_while_a_core_is_held_the_crowded_count_is_measured():
    choice, clock, counts = crowded_trial({4: 0.080, 1: 0.100})
    # the usable count for a whole hold first (a program of a few passes never pays for
    # the crowded trial), then the crowded count's trial
    first = counts.index(4)
    assert first >= HOLD_PASSES and set(counts[:first]) == {1}
    assert counts[first:] == [4] * (TRIAL_PASSES + 1)
    assert choice.best == 4 and choice.candidates == (4, 1)
    assert run(choice, clock, 1, 0.0, lambda n: 0.08, crowded=4) == 4


def test_the_crowded_count_is_kept_when_its_mean_is_faster():
    # its cost is bounded: a mean 1.02x faster is enough (the niced pair needs MARGIN) ...
    assert pass_choice.CROWDED_MARGIN < 1.02 < pass_choice.MARGIN
    assert crowded_trial({4: 0.098, 1: 0.100})[0].best == 4
    # ... a slower one is not
    assert crowded_trial({4: 0.102, 1: 0.100})[0].best == 1


def test_a_count_that_keeps_losing_is_tried_less_often():
    times = {4: 0.150, 1: 0.100}
    choice, clock, _ = crowded_trial(times)
    assert choice.best == 1
    holds = []
    for _ in range(pass_choice.MAX_BACKOFF + 3):
        passes = 0
        while True:                              # passes on 1 until the next trial starts
            n = run(choice, clock, 1, 0.0, times.get, crowded=4)
            passes += 1
            if n == 4:
                break
        holds.append(passes)
        for _ in range(TRIAL_PASSES):            # the rest of the trial
            run(choice, clock, 1, 0.0, times.get, crowded=4)
        assert choice.best == 1
    # the hold doubles from the second lost trial on, up to MAX_BACKOFF doublings
    first = holds[0]
    assert holds[1] > first and holds[2] > holds[1]
    assert max(holds) <= first * (1 << pass_choice.MAX_BACKOFF) + 1
    times[4] = 0.050                             # the crowded count wins: the hold is short
    while run(choice, clock, 1, 0.0, times.get, crowded=4) != 4:
        pass
    for _ in range(TRIAL_PASSES):
        run(choice, clock, 1, 0.0, times.get, crowded=4)
    assert choice.best == 4 and choice.losses == 0
    assert choice.hold_passes == HOLD_PASSES


def test_from_held_cores_to_niced_work_the_candidates_change():
    choice, clock, _ = crowded_trial({4: 0.080, 1: 0.100})
    assert choice.best == 4
    # the held core is gone, a niced neighbour came: usable 2 against 1, measured anew
    assert run(choice, clock, 2, 0.9, lambda n: 0.01, crowded=0) == 1
    assert choice.candidates == (2, 1) and choice.best is None


def niced_stat(nice_ticks, busy_ticks, total_per_cpu, ncpu=2):
    """Busy ticks on cpu0, niced ticks on cpu1, the rest idle."""
    def row(c):
        busy, nice = (busy_ticks if c == 0 else 0), (nice_ticks if c == 1 else 0)
        return f"cpu{c} {busy} {nice} 0 {total_per_cpu - busy - nice} 0 0 0 0 0 0\n"
    return "".join(row(c) for c in range(ncpu))


def test_monitor_reads_niced_work_without_counting_it_held():
    state = {"t": 0.0, "nice": 0, "busy": 0}

    def stat():
        return niced_stat(state["nice"], state["busy"], int(state["t"] * 100))
    mon = threads.CoreMonitor(read_stat=stat, own_cpu=lambda: state["busy"] / 100,
                              clock=lambda: state["t"], cpus=lambda: [0, 1],
                              quota=lambda: None, niced=lambda: False, ticks_per_s=100,
                              runnable=lambda: 0)

    def window(nice_cores, ours=1.0):
        state["t"] += 0.3
        state["nice"] += int(nice_cores * 30)
        state["busy"] += int(ours * 30)
        return mon.check()
    assert window(0.0) == 2 and not mon.contested
    assert window(0.9) == 2                     # a nice-10 loop: not a held core ...
    assert mon.contested and abs(mon.niced_others - 0.9) < 0.05   # ... but it is there
    assert window(0.0) == 2 and mon.contested   # one quiet window is not enough
    assert window(0.0) == 2 and not mon.contested


def test_net_forward_under_niced_work_runs_the_measured_count(monkeypatch):
    """The same outputs on the count the choice picks; torch's count is the pass's own and
    put back after it (the policy's record is not the program's choice)."""
    net = Net("""input: "data" input_shape { dim: 2 dim: 3 dim: 32 dim: 32 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 64 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }""", phase="test", seed=1)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 32, 32), np.float32))
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(threads, "usable_threads", lambda: 2)
        with torch.inference_mode():
            expected = net.forward(data=x, keep_blobs=False)["conv"].clone()
            monkeypatch.setattr(threads, "niced_neighbours", lambda: 0.9)
            seen = []
            for _ in range(2 * (TRIAL_PASSES + 1) + 2):
                got = net.forward(data=x, keep_blobs=False)["conv"]
                assert torch.equal(got, expected)
                assert torch.get_num_threads() == 2        # put back after the pass
            choice = next(iter(net.__dict__["_pass_choices"].values()))
            seen = set(choice.times)
        assert seen == {1, 2} and choice.best in (1, 2)
        assert threads.max_threads() == 2
    finally:
        torch.set_num_threads(saved)


def test_solver_iterations_under_niced_work_measure_their_count(tmp_path, monkeypatch):
    """A training iteration (forward, backward, update) runs under the measured cap: both
    counts are tried, and the trained weights are the bits of a run without niced work."""
    from caffe_compat import get_solver
    net = tmp_path / "net.prototxt"
    net.write_text("""layer { name: "data" type: "DummyData" top: "data" top: "label"
  dummy_data_param { shape { dim: 16 dim: 3 dim: 32 dim: 32 } shape { dim: 16 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 1 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 64 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc"
  inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }""")
    solver_file = tmp_path / "solver.prototxt"
    solver_file.write_text(f'net: "{net}" base_lr: 0.01 lr_policy: "fixed" momentum: 0.9 '
                           f'max_iter: 100 display: 0 snapshot: 0 random_seed: 5 '
                           f'snapshot_prefix: "{tmp_path}/s" snapshot_after_train: false')
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(threads, "usable_threads", lambda: 2)
        plain = get_solver(str(solver_file))
        plain.step(2 * (TRIAL_PASSES + 1) + 2)
        monkeypatch.setattr(threads, "niced_neighbours", lambda: 0.9)
        measured = get_solver(str(solver_file))
        seen = []
        original = threads._state
        measured.step(2 * (TRIAL_PASSES + 1) + 2)
        choice = measured.__dict__["_pass_choices"]["iteration"]
        seen = set(choice.times)
        assert seen == {1, 2} and choice.best in (1, 2)
        assert original["pass_count"] is None              # no count left after the step
        assert threads.max_threads() == 2
        for a, b in zip(plain._params, measured._params):
            assert torch.equal(a.detach(), b.detach())
    finally:
        torch.set_num_threads(saved)


HELD_NET = """input: "data" input_shape { dim: 2 dim: 3 dim: 32 dim: 32 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 64 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
  pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layer { name: "prob" type: "Softmax" bottom: "pool" top: "prob" }"""


def test_net_forward_while_a_core_is_held_tries_the_crowded_count(monkeypatch):
    """While another process holds a core, a forward measures more threads than cores
    against the usable count: the same outputs either way, torch's count put back."""
    net = Net(HELD_NET, phase="test", seed=1)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 32, 32), np.float32))
    monkeypatch.setattr(pass_choice, "HOLD_PASSES", 2)     # the crowded trial soon
    monkeypatch.setattr(pass_choice, "HOLD_SECONDS", 0.0)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setattr(threads, "usable_threads", lambda: 1)
        with torch.inference_mode():
            expected = net.forward(data=x, keep_blobs=False)["prob"].clone()
            monkeypatch.setattr(threads, "held_cores", lambda: 1)
            monkeypatch.setattr(threads, "crowded_count", lambda: 4)
            for _ in range(1 + 2 + TRIAL_PASSES + 1):     # the first, the hold, the trial
                got = net.forward(data=x, keep_blobs=False)["prob"]
                assert torch.equal(got, expected)
                assert torch.get_num_threads() == 1        # put back after the pass
        choice = next(iter(net.__dict__["_pass_choices"].values()))
        assert set(choice.times) == {1, 4} and choice.candidates == (4, 1)
    finally:
        torch.set_num_threads(saved)


def test_solver_iterations_while_a_core_is_held_train_the_same_bits(tmp_path, monkeypatch):
    """Training iterations under the crowded count (4 threads on this machine's cores) and
    under one thread: both tried, and the weights are the bits of a run on one thread."""
    from caffe_compat import get_solver
    net = tmp_path / "net.prototxt"
    net.write_text("""layer { name: "data" type: "DummyData" top: "data" top: "label"
  dummy_data_param { shape { dim: 16 dim: 3 dim: 32 dim: 32 } shape { dim: 16 dim: 1 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "gaussian" std: 1 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 32 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "one" type: "Convolution" bottom: "conv" top: "one"
  convolution_param { num_output: 1 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "fc" type: "InnerProduct" bottom: "one" top: "fc"
  inner_product_param { num_output: 1 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "label" top: "loss" }""")
    solver_file = tmp_path / "solver.prototxt"
    solver_file.write_text(f'net: "{net}" base_lr: 0.001 lr_policy: "fixed" momentum: 0.9 '
                           f'max_iter: 100 display: 0 snapshot: 0 random_seed: 5 '
                           f'snapshot_prefix: "{tmp_path}/s" snapshot_after_train: false')
    steps = 1 + 2 + TRIAL_PASSES + 1                       # the first, the hold, the trial
    monkeypatch.setattr(pass_choice, "HOLD_PASSES", 2)     # the crowded trial soon
    monkeypatch.setattr(pass_choice, "HOLD_SECONDS", 0.0)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setattr(threads, "usable_threads", lambda: 1)
        plain = get_solver(str(solver_file))
        plain.step(steps)
        monkeypatch.setattr(threads, "held_cores", lambda: 1)
        monkeypatch.setattr(threads, "crowded_count", lambda: 4)
        measured = get_solver(str(solver_file))
        measured.step(steps)
        choice = measured.__dict__["_pass_choices"]["iteration"]
        assert set(choice.times) == {1, 4}
        assert threads._state["pass_count"] is None
        for a, b in zip(plain._params, measured._params):
            assert torch.equal(a.detach(), b.detach())
    finally:
        torch.set_num_threads(saved)
