"""The reproduction's steps on Dask (``reproduce --dask local`` / ``--dask tcp://HOST:8786``):
independent steps at the same time, one per GPU, on this machine or on a cluster.

The step graph is :class:`~reproduction.pipeline.Pipeline`'s: one Dask task per step, depending
on the tasks of the steps it reads from, so the trainings of different models and factors (and
their evaluations) run concurrently while each waits for its data and its SR-FCN. Each task
rebuilds the pipeline from its :class:`~reproduction.pipeline.Config` in the worker and runs
that step only; completion stamps work as in a sequential run, so a run stopped anywhere (a
worker lost, the client interrupted) resumes where it stopped, through Dask or not, and a
training step resumes from its last snapshot.

- ``local`` (or ``local:N``): a LocalCluster on this machine; with ``--device cuda``, one
  worker process per GPU, each training on its own (``cuda:<worker index>``), every
  training / evaluation task taking the worker's one ``GPU`` resource; on the CPU, N worker
  processes (default 1).
- ``tcp://HOST:PORT``: an existing Dask scheduler, e.g. one started on a Slurm cluster with
  dask-jobqueue (``SLURMCluster(...).scale(jobs=8)``, workers started with
  ``--resources GPU=1 --nthreads 1``) or by hand (``dask scheduler`` on one node, ``dask worker
  tcp://HOST:8786 --nthreads 1 --resources GPU=1`` per GPU under ``srun``). The output folder
  (and the AVEC data) must be on a file system every worker sees.
"""
from __future__ import annotations

import os

from .errors import ReproductionError

# steps that run a net: on GPUs each takes one (the worker's only GPU resource)
_NET_STEPS = ("train-", "eval-", "figure4-s")


def _require_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ReproductionError(
            "--dask needs Dask's distributed scheduler: pip install 'robust-lq-emotion[dask]' "
            "(or pip install 'dask[distributed]'); without --dask the steps run one after "
            "the other") from None
    return distributed


def _worker_device(device):
    """``cuda:<i>`` for the i-th worker of a LocalCluster (or the worker's GPU resource when
    its name is not a number); the CPU stays the CPU."""
    if not str(device).startswith("cuda"):
        return device
    import torch
    from distributed import get_worker
    try:
        name = get_worker().name
    except ValueError:       # not in a worker
        return device
    count = max(1, torch.cuda.device_count())
    try:
        return f"cuda:{int(name) % count}"
    except (TypeError, ValueError):
        return "cuda"        # a cluster worker: CUDA_VISIBLE_DEVICES gives it its GPU


def run_step(config_json, name, *_upstream):
    """A Dask task: step ``name`` of the pipeline of ``config_json`` (``_upstream``: the
    results of the steps it depends on, only to order the tasks). Returns
    ``(name, "skipped" | "ran", seconds)``."""
    import time

    from .pipeline import Config, Pipeline
    config = Config.from_json(config_json)
    config.device = _worker_device(config.device)
    lines = []
    pipe = Pipeline(config, log=lines.append, progress=False)
    if pipe.is_done(name):
        return name, "skipped", 0.0
    st = pipe.steps[name]
    t0 = time.perf_counter()
    outputs = st.fn(pipe, st) or {}
    seconds = time.perf_counter() - t0
    pipe._write_stamp(name, outputs, seconds)
    return name, "ran", seconds


def local_cluster(spec, device):
    """A LocalCluster for ``local`` / ``local:N``."""
    distributed = _require_distributed()
    workers = None
    if ":" in spec:
        try:
            workers = int(spec.split(":", 1)[1])
        except ValueError:
            raise ReproductionError(f"--dask {spec}: expected local or local:N (N workers)") \
                from None
        if workers < 1:
            raise ReproductionError(f"--dask {spec}: N must be at least 1")
    resources = None
    if str(device).startswith("cuda"):
        import torch
        workers = workers or torch.cuda.device_count()
        resources = {"GPU": 1}
    return distributed.LocalCluster(n_workers=workers or 1, threads_per_worker=1,
                                    processes=True, resources=resources,
                                    dashboard_address=None)


def run_on_dask(config, spec="local", targets=None, log=print):
    """Run the steps of ``config`` (all, or those ``targets`` need) as a Dask graph on
    ``spec`` (``local``, ``local:N`` or a scheduler address); returns ``{step: "ran" |
    "skipped"}``."""
    distributed = _require_distributed()
    from .pipeline import Pipeline
    pipe = Pipeline(config, log=log, progress=False)
    os.makedirs(pipe.out, exist_ok=True)
    pipe.write_config()
    names = pipe.order(targets)
    cluster = local_cluster(spec, config.device) if spec.startswith("local") else None
    gpu = str(config.device).startswith("cuda")
    cfg_json = config.to_json()
    try:
        with distributed.Client(cluster if cluster is not None else spec) as client:
            futures = {}
            for name in names:
                deps = [futures[d] for d in pipe.steps[name].deps if d in futures]
                resources = {"GPU": 1} if gpu and name.startswith(_NET_STEPS) else None
                futures[name] = client.submit(run_step, cfg_json, name, *deps,
                                              key=f"{name}-{pipe.key(name)[:16]}",
                                              resources=resources, pure=False, retries=0)
            status = {}
            for future, result in distributed.as_completed(futures.values(),
                                                           with_results=True):
                name, what, seconds = result
                status[name] = what
                log(f"[{len(status)}/{len(names)}] {name}: "
                    + ("done earlier, skipped" if what == "skipped"
                       else f"finished in {seconds:.1f} s"))
    finally:
        if cluster is not None:
            cluster.close()
    return status


__all__ = ["run_on_dask", "run_step", "local_cluster"]
