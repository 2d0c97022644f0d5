"""Caffe 1.0's data-parallel training (``caffe train -gpu 0,1``; src/caffe/parallel.cpp) on
torch.distributed: one process per device, NCCL between GPUs, gloo between CPU processes.

The rules matched, as Caffe applies them:

- the solver count and rank (``Caffe::solver_count`` / ``solver_rank``; pycaffe's
  ``set_solver_count`` / ``set_solver_rank``) are process-wide, set before the nets are built;
- every rank builds the same net from the same ``random_seed`` and takes rank 0's parameters
  (``NCCL::Broadcast``); without a seed, rank 0 draws one for all, so HDF5 shuffles agree;
- the train nets' data layers skip records as Caffe's ``Skip()``: record k goes to rank
  ``k mod N``; test nets do not skip, and only rank 0 builds and runs them;
- after the backward pass (``on_gradients_ready``) every diff is summed over the ranks and
  scaled by ``1 / N``, so N ranks of batch B train as one process on N x B;
- snapshots and log lines come from rank 0 only.

Beyond Caffe (whose GPUs each draw their own Dropout masks): rank r's Dropout keeps rows
``r::N`` of the mask one process would draw for the N x B batch, so N ranks train exactly as
one process. A stop or snapshot request (SIGINT / SIGHUP) is decided on rank 0 and shared at
the end of each iteration, so every rank acts at the same iteration."""
from __future__ import annotations

import atexit
import os
import socket

import numpy as np
import torch

from ..errors import SolverError

_state = {"count": 1, "rank": 0, "multiprocess": False}

# a worker whose collective failed because another rank went away exits with this status, so
# the launcher can tell the rank that failed first from the ranks that lost it
PEER_LOST_EXIT = 75


def solver_count():
    """How many solvers train together (Caffe::solver_count)."""
    return _state["count"]


def solver_rank():
    """This process's solver rank (Caffe::solver_rank)."""
    return _state["rank"]


def set_solver_count(count):
    count = int(count)
    if count < 1:
        raise SolverError(f"solver count must be at least 1, got {count}")
    _state["count"] = count


def set_solver_rank(rank):
    rank = int(rank)
    if rank < 0:
        raise SolverError(f"solver rank must be at least 0, got {rank}")
    _state["rank"] = rank


def set_multiprocess(value):
    _state["multiprocess"] = bool(value)


def multiprocess():
    return _state["multiprocess"]


def is_root():
    """Rank 0 (Caffe::root_solver): the one that tests, snapshots and logs."""
    return _state["rank"] == 0


def shard(phase):
    """``(rank, count)`` for a data layer of ``phase``: TRAIN layers skip records of the other
    ranks; TEST layers (run by rank 0 alone) read every record (Caffe's Skip)."""
    if str(phase).upper() != "TRAIN" or _state["count"] <= 1:
        return 0, 1
    if _state["rank"] >= _state["count"]:
        raise SolverError(f"solver rank {_state['rank']} is not below the solver count "
                          f"{_state['count']}")
    return _state["rank"], _state["count"]


def keeps(offset, rank, count):
    """Caffe's Skip(): whether record number ``offset`` of the stream belongs to ``rank``."""
    return offset % count == rank


def distributed():
    """Whether a torch.distributed process group joins the ranks."""
    return (_state["count"] > 1 and torch.distributed.is_available()
            and torch.distributed.is_initialized())


# ---------------------------------------------------------------------------- process group
def free_port():
    """A TCP port free on this machine now (for a local rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_process_group(device, init_method=None, world_size=None, rank=None, timeout_s=1800):
    """Join the ranks: NCCL for CUDA devices, gloo for the CPU; ``init_method`` None reads
    torchrun's environment (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE). Sets the solver count
    and rank."""
    import datetime

    import torch.distributed as dist
    device = torch.device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs = {"backend": backend, "timeout": datetime.timedelta(seconds=timeout_s)}
    if init_method is not None:
        kwargs.update(init_method=init_method, world_size=int(world_size), rank=int(rank))
    if device.type == "cuda":
        torch.cuda.set_device(device)
        kwargs["device_id"] = device
    if not dist.is_initialized():
        dist.init_process_group(**kwargs)
        # leave the group before the interpreter finalizes: a group left to its last
        # collection is destroyed while gloo's worker threads still run, and one of them can
        # abort the process (``terminate called without an active exception``) after a run
        # that finished well. Caffe's ranks release NCCL in their destructors; this is that
        # release for programs (pycaffe's ``train.py``) that never call close_process_group
        atexit.unregister(close_process_group)       # once, however often a group is joined
        atexit.register(close_process_group)
    set_solver_count(dist.get_world_size())
    set_solver_rank(dist.get_rank())
    set_multiprocess(True)
    return backend


def close_process_group():
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shared_seed(seed, device="cpu"):
    """The seed every rank uses: rank 0's (drawn when it has none)."""
    if not distributed():
        return seed
    mine = seed if seed is not None else int(np.random.SeedSequence().entropy % (2 ** 31))
    t = torch.tensor([mine], dtype=torch.int64, device=_comm_device(device))
    _collective("sharing the random seed", torch.distributed.broadcast, t, 0)
    return int(t.item())


def _comm_device(device):
    device = torch.device(device)
    return device if device.type == "cuda" else torch.device("cpu")


class PeerLost(SolverError):
    """A collective failed: another rank stopped."""


def _collective(what, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, OSError, ValueError) as e:
        raise PeerLost(f"rank {solver_rank()} of {solver_count()}: {what} failed, another rank "
                       f"stopped ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                       ) from None


# ---------------------------------------------------------------------------- the exchange
class GradientExchange:
    """Caffe's NCCL solver callback: rank 0's parameters at the first iteration
    (``Broadcast``), then at every ``on_gradients_ready`` the diffs summed over the ranks
    (one flat all-reduce) and scaled by 1/N."""

    def __init__(self, solver):
        self.solver = solver
        self.synced = False

    def broadcast(self):
        """Rank 0's weights, history and iteration to every rank (after a restore too)."""
        s = self.solver
        dev = _comm_device(s.device)
        with torch.no_grad():
            tensors = [p.detach() for p in s._params] + list(s.history)
            if tensors:
                flat = torch.cat([t.reshape(-1).to(dev) for t in tensors])
                _collective("broadcasting rank 0's weights", torch.distributed.broadcast,
                            flat, 0)
                at = 0
                for t in tensors:
                    n = t.numel()
                    t.copy_(flat[at:at + n].view(t.shape))
                    at += n
            it = torch.tensor([s.iter, s.current_step], dtype=torch.int64, device=dev)
            _collective("broadcasting the iteration", torch.distributed.broadcast, it, 0)
            s.iter, s.current_step = int(it[0]), int(it[1])
        self.synced = True

    def on_start(self, solver):
        if not self.synced:
            self.broadcast()

    def on_gradients_ready(self, solver):
        s = self.solver
        dev = _comm_device(s.device)
        with torch.no_grad():
            grads = []
            for p in s._params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                grads.append(p.grad)
            if not grads:
                return
            flat = torch.cat([g.reshape(-1).to(dev) for g in grads])
            _collective(f"the gradient all-reduce of iteration {s.iter}",
                        torch.distributed.all_reduce, flat)
            # Caffe: (Dtype) 1.0 / solver_count, in the parameters' precision
            flat.mul_(float(np.float32(1.0) / np.float32(solver_count())))
            at = 0
            for g in grads:
                n = g.numel()
                g.copy_(flat[at:at + n].view(g.shape))
                at += n


class SharedAction:
    """The action function of every rank: rank 0 polls the real one (SIGINT / SIGHUP) and its
    answer at the end of each iteration is broadcast; during rank 0's test passes a snapshot is
    taken at once (rank 0 alone writes it) and a stop waits for the iteration's end."""

    _CODES = ("none", "stop", "snapshot")

    def __init__(self, solver, fn=None):
        self.solver = solver
        self.fn = fn
        self.pending = "none"

    def _poll(self):
        if self.fn is None:
            return "none"
        action = self.fn()
        return action if action in self._CODES else "none"

    def __call__(self):
        s = self.solver
        if getattr(s, "_test_pass_start", None) is not None:      # rank 0 testing alone
            action = self._poll()
            if action == "stop":
                self.pending = "stop"
                return "none"
            return action
        code = 0
        if is_root():
            action = self.pending if self.pending != "none" else self._poll()
            self.pending = "none"
            code = self._CODES.index(action)
        t = torch.tensor([code], dtype=torch.int64, device=_comm_device(s.device))
        _collective("sharing the stop/snapshot request", torch.distributed.broadcast, t, 0)
        return self._CODES[int(t.item())]


def make_parallel(solver, action_function=None):
    """Join ``solver`` to the ranks: rank 0's weights at the first iteration, gradients summed
    and scaled by 1/N before each update, stop/snapshot requests decided by rank 0. Returns the
    exchange (Caffe's NCCL object)."""
    if not distributed():
        raise SolverError("data-parallel training needs a torch.distributed process group with "
                          "more than one rank (caffe-compat train -gpu 0,1 / --ranks N, or "
                          "torchrun)")
    exchange = GradientExchange(solver)
    solver.add_callback(exchange)
    solver.set_action_function(SharedAction(solver, action_function))
    solver.parallel = exchange
    return exchange


def rank_device(gpu_ids, local_rank):
    """The device of local rank ``local_rank``: ``cuda:<gpu_ids[local_rank]>``, or the CPU when
    ``gpu_ids`` is empty."""
    if not gpu_ids:
        return "cpu"
    if local_rank >= len(gpu_ids):
        raise SolverError(f"local rank {local_rank} has no GPU: -gpu names {len(gpu_ids)} "
                          f"({','.join(map(str, gpu_ids))})")
    return f"cuda:{gpu_ids[local_rank]}"


def torchrun_env():
    """``(rank, local_rank, world_size)`` when started by torchrun (or our launcher), else
    None."""
    if "LOCAL_RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    return (int(os.environ.get("RANK", os.environ["LOCAL_RANK"])),
            int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"]))


__all__ = ["solver_count", "solver_rank", "set_solver_count", "set_solver_rank",
           "set_multiprocess", "multiprocess", "is_root", "shard", "keeps", "distributed",
           "init_process_group", "shared_seed", "GradientExchange", "SharedAction",
           "make_parallel", "rank_device", "torchrun_env", "free_port", "PeerLost",
           "PEER_LOST_EXIT"]
