"""``caffe-compat train`` on several devices: which processes to start and how each one joins
(the rules: :mod:`caffe_compat.parallel.data_parallel`).

- ``-gpu 0,1`` / ``-gpu all``: one process per listed GPU on this machine, NCCL between them
  (Caffe's ``caffe train -gpu 0,1``); the effective batch is N x the net's ``batch_size``;
- ``--ranks N``: N processes on the CPU, gloo between them; the same rules;
- under ``torchrun`` (``torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d
  --rdzv-endpoint HOST:29400 -m caffe_compat.cli train -solver s.prototxt -gpu all``): every
  process joins torchrun's group (RANK, WORLD_SIZE, LOCAL_RANK); local rank i uses the i-th
  GPU of ``-gpu`` (``all``: every GPU of its machine), or the CPU without ``-gpu``.

The first two start the processes with torch's elastic launcher, the workers running this
same command line; when one fails, the others are stopped and the command ends naming the
rank that failed first. Snapshots (rank 0's) resume with ``-snapshot``; every rank restores
the same file, so on several machines the snapshot folder must be shared."""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import uuid

from . import data_parallel as parallel
from ..errors import CaffeCompatError


def gpu_ids(flag):
    """The device ids of ``-gpu`` ('' -> [], 'all' -> every CUDA device, '0,1' -> [0, 1])."""
    if not flag:
        return []
    import torch
    if flag == "all":
        return list(range(torch.cuda.device_count()))
    try:
        return [int(x) for x in flag.split(",")]
    except ValueError:
        raise CaffeCompatError(f"-gpu expects device ids separated by ',' or 'all', got "
                               f"'{flag}'") from None


class Plan:
    """What ``train`` does with ``-gpu`` / ``--ranks``: ``mode`` is 'single' (one process),
    'launch' (start ``nproc`` workers here) or 'worker' (join torchrun's group)."""

    def __init__(self, args):
        import torch
        self.ranks = getattr(args, "ranks", None)
        self.ids = gpu_ids(args.gpu) if args.gpu else []
        env = parallel.torchrun_env()
        if self.ranks is not None and self.ranks < 1:
            raise CaffeCompatError(f"--ranks expects a number of processes >= 1, got "
                                   f"{self.ranks}")
        if self.ranks is not None and args.gpu:
            raise CaffeCompatError("--ranks starts CPU processes and -gpu GPU processes: give "
                                   "one of them")
        if env is not None and env[2] > 1:
            self.mode, (self.rank, self.local_rank, self.world) = "worker", env
            if self.ranks is not None and self.ranks != self.world:
                raise CaffeCompatError(f"--ranks {self.ranks} but torchrun started "
                                       f"{self.world} processes")
            return
        self.nproc = self.ranks or len(self.ids) or 1
        self.mode = "launch" if self.nproc > 1 else "single"
        if self.mode == "launch" and self.ids:
            have = torch.cuda.device_count()
            missing = [i for i in self.ids if i >= have]
            if missing:
                found = f"only {have} CUDA devices are" if have else "no CUDA device is"
                raise CaffeCompatError(
                    f"-gpu {args.gpu}: {found} available (GPU "
                    f"{', '.join(map(str, missing))} missing); to train data-parallel on the "
                    f"CPU use --ranks {len(self.ids)}")

    def device(self):
        """The worker's device."""
        return parallel.rank_device(self.ids, self.local_rank)


def launch(argv, nproc, run_id=None):
    """Run ``caffe-compat train <argv>`` as ``nproc`` processes on this machine (torch's elastic
    launcher, no restarts); returns the exit status, naming the rank that failed first."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc,
                          run_id=run_id or f"caffe-compat-{uuid.uuid4().hex[:8]}",
                          rdzv_backend="c10d", rdzv_endpoint=f"127.0.0.1:{parallel.free_port()}",
                          max_restarts=0, monitor_interval=0.2,
                          signals_to_handle="SIGTERM,SIGQUIT")
    # SIGINT / SIGHUP are the workers' (rank 0 decides, as Caffe's root solver): the launcher
    # passes them on (the workers run in sessions of their own, out of the terminal's reach)
    previous = {s: signal.signal(s, _forward) for s in (signal.SIGINT, signal.SIGHUP)}
    try:
        elastic_launch(config, entrypoint=sys.executable)(
            "-m", "caffe_compat.cli", "train", *argv)
    except ChildFailedError as e:
        print(f"caffe-compat train: error: {describe_failure(e.failures)}", file=sys.stderr)
        return 1
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return 0


def _forward(signum, frame):
    for pid in child_pids(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def child_pids(pid):
    """The processes whose parent is ``pid`` (Linux's /proc; elsewhere none are found)."""
    out = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def describe_failure(failures):
    """One line naming the rank that failed first (a rank that only lost a peer is named
    last) from ``{rank: ProcessFailure}``."""
    def how(f):
        if f.exitcode < 0:
            try:
                return f"was killed by signal {signal.Signals(-f.exitcode).name}"
            except ValueError:
                return f"was killed by signal {-f.exitcode}"
        return f"exited with status {f.exitcode}"

    culprits = {r: f for r, f in failures.items() if f.exitcode != parallel.PEER_LOST_EXIT}
    named = culprits or failures
    parts = [f"rank {r} (pid {f.pid}) {how(f)}" for r, f in sorted(named.items())]
    others = sorted(set(failures) - set(named))
    tail = f"; rank(s) {', '.join(map(str, others))} then lost it" if others else ""
    return (f"data-parallel training failed: {'; '.join(parts)}{tail}; the other ranks were "
            "stopped (resume from the last snapshot with -snapshot)")


def silent_log():
    from ..diagnostics.glog import SolverLog
    return SolverLog()


def worker_environment():
    """Threads per worker: the machine's cores shared by the local ranks (torchrun sets
    OMP_NUM_THREADS=1 when unset, which starves CPU ranks)."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if "CAFFE_COMPAT_THREADS" in os.environ:
        n = int(os.environ["CAFFE_COMPAT_THREADS"])
    else:
        n = max(1, (os.cpu_count() or 1) // max(1, local))
    import torch
    torch.set_num_threads(n)


__all__ = ["Plan", "launch", "describe_failure", "gpu_ids", "silent_log",
           "worker_environment", "child_pids"]
