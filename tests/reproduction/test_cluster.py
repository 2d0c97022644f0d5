"""``reproduce --dask``: the step graph on Dask's local cluster (a reduced ``--quick`` run),
resuming a run stopped part-way and skipping everything on a second run."""
import pytest

pytest.importorskip("distributed", reason="the 'dask' extra is not installed")

from reproduction.__main__ import main  # noqa: E402
from reproduction.pipeline import Config, Pipeline  # noqa: E402


@pytest.fixture(scope="module")
def avec(tmp_path_factory):
    from reproduction.sample import make_sample
    root = tmp_path_factory.mktemp("avec")
    make_sample(root, n_train=1, n_dev=1, n_frames=24, seed=0, progress=False)
    return root


def _argv(avec, out):
    # --quick, reduced: one model (HR), one factor, 6 iterations of batch 2, no Figure 4
    return ["reproduce", "--avec", str(avec), "--out", str(out), "--quick", "--iters",
            "cnnd=6", "--batch", "2", "--chunk", "2", "--methods", "hr", "--factors", "3",
            "--no-figure4", "--quiet", "--dask", "local:2"]


# 13 s on 2 cores (a local Dask cluster started twice): in the slow pass, which CI runs
@pytest.mark.slow
def test_reduced_quick_reproduction_on_dask_resumes(avec, tmp_path, capsys):
    out = tmp_path / "run"
    # a run stopped after its data steps (sequentially, as today's)
    cfg = Config.from_json(_config_json(avec, out))
    Pipeline(cfg, log=lambda line: None, progress=False).run(targets=["h5-hr"])

    assert main(_argv(avec, out)) == 0
    text = capsys.readouterr().out
    assert "crops-hr: done earlier, skipped" in text and "h5-hr: done earlier, skipped" in text
    assert "train-hr: finished in" in text and "table: finished in" in text
    assert (out / "table1.md").is_file()
    pipe = Pipeline(cfg, log=lambda line: None, progress=False)
    assert all(pipe.is_done(n) for n in pipe.steps)
    assert pipe.outputs("train-hr")["iterations"] == 6

    # nothing left to do: every step skipped through the engine too
    assert main(_argv(avec, out)) == 0
    text = capsys.readouterr().out
    assert "finished in" not in text
    assert text.count("done earlier, skipped") == len(pipe.steps)


def _config_json(avec, out):
    from reproduction.__main__ import _schedule, build_parser
    args = build_parser().parse_args(_argv(avec, out)[:-2])
    sched = _schedule(args)
    return Config(out=str(out), avec=str(avec), methods=("hr",), factors=(3,),
                  schedule=sched, figure4=None, seed=1).to_json()


def test_missing_dask_names_the_extra(monkeypatch):
    import builtins

    from reproduction import cluster
    from reproduction.errors import ReproductionError
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "distributed":
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ReproductionError, match=r"robust-lq-emotion\[dask\]"):
        cluster._require_distributed()
