"""Regenerating the HDF5 files of a run that used other sequences than the script's 18.

``prepare_h5_files.m`` reads ``train_1..train_9`` and ``dev_1..dev_9``; the bundled sample
(and any subset) has fewer, so the default names are missing. The error must name what the
folder holds and the ``--train/--test`` flags that take it, and the demo's summary gives the
command that writes its HDF5 files again bit for bit (its chunk of 16 included, which the
stamp file alone records).
"""
import shlex
import types

import pytest

from matlab_ports import prepare_h5_files as ph5
from matlab_ports.errors import PortError
from tests.matlab_ports.test_generate_h5 import assert_same_h5, write_seq

SAMPLE_TRAIN = ("train_1", "train_2", "train_3")
SAMPLE_DEV = ("dev_1", "dev_2")


@pytest.fixture(scope="module")
def sample_crops(tmp_path_factory):
    """The demo's sequence names (3 train, 2 dev), a few frames each."""
    import numpy as np
    d = tmp_path_factory.mktemp("crops-hr")
    rng = np.random.default_rng(5)
    for name in SAMPLE_TRAIN + SAMPLE_DEV:
        write_seq(d / f"{name}.mat", rng, 6)
    return d


def test_missing_defaults_suggest_train_and_test(tmp_path, sample_crops):
    with pytest.raises(PortError) as e:
        ph5.prepare_h5_files(sample_crops, tmp_path / "o", progress=False)
    msg = str(e.value)
    assert "13 input file(s) missing" in msg, msg
    assert "--train train_1,train_2,train_3 --test dev_1,dev_2" in msg, msg


def test_missing_defaults_suggestion_on_the_command_line(tmp_path, sample_crops, capsys):
    rc = ph5.main(["--data", str(sample_crops), "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "--train train_1,train_2,train_3 --test dev_1,dev_2" in err, err


def _fake_pipeline(crops, chunk, mix):
    """The two steps the demo's command is built from: crops-hr's outputs and an h5 step."""
    from reproduction.pipeline import Step
    steps = {"crops-hr": Step("crops-hr", {}, (), None, ""),
             "h5-x": Step("h5-x", dict(variant="x", mix=mix, chunk=chunk, seed=0),
                          ("crops-hr",), None, "")}
    outputs = {"crops-hr": dict(dir=str(crops), train=list(SAMPLE_TRAIN),
                                dev=list(SAMPLE_DEV))}
    return types.SimpleNamespace(steps=steps, outputs=outputs.__getitem__)


@pytest.mark.parametrize("mix", [None, [3, 4, 6]])
def test_demo_command_writes_the_same_bits(tmp_path, sample_crops, mix):
    """The summary's command, run, gives the bits the demo's step wrote (the step's own call
    of prepare_h5_files, reproduction.pipeline.Pipeline._run_h5)."""
    from reproduction.demo import h5_commands
    pipe = _fake_pipeline(sample_crops, 2, mix)
    (command,) = h5_commands(pipe, out_root=str(tmp_path / "again"))
    assert "--chunk 2" in command and ("--mix" in command) == bool(mix), command
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "matlab_ports.prepare_h5_files"], argv
    assert ph5.main(argv[3:] + ["--quiet"]) == 0
    ph5.prepare_h5_files(sample_crops, tmp_path / "step", train=list(SAMPLE_TRAIN),
                         test=list(SAMPLE_DEV), mix=bool(mix), mix_lr=tuple(mix or (3, 4, 6)),
                         chunk=2, seed=0, progress=False)
    for name in ("train.h5", "test.h5"):
        assert_same_h5(tmp_path / "again" / "x" / name, tmp_path / "step" / name)
