"""``prepare_h5_files.m``: the training and test HDF5 files of the paper, one random stream.

The script builds ``<data_path>/<name>.mat`` for the nine training sequences (``train_1`` ..
``train_9``) and the nine test sequences (``dev_1`` .. ``dev_9``) and calls
``generate_h5(train_input, 96, <save>/train, 128, options)`` then the same for ``test``, in
one MATLAB session: both calls draw from MATLAB's global stream, the test file continuing
where the training file stopped. A fresh session starts from ``rng(0)``
(:class:`~matlab_ports.rng.MatlabRandomStream` ``(0)``); ``seed`` starts from ``rng(seed)``.
Options default to the script's values (``single``, no augmentation, no mean subtraction, no
normalisation, split 1, no mix, ``mix_lr = [3 4 6]``).

Writes ``<out_dir>/train.h5``, ``<out_dir>/train_h5_list.txt``, ``<out_dir>/test.h5``,
``<out_dir>/test_h5_list.txt`` (``_<i>.h5`` files in multi mode), the sources the training
prototxts name (``DATA/train_h5_list.txt``, ``DATA/test_h5_list.txt``).
"""
import argparse
import os
import re
import sys

from .errors import PortError
from .generate_h5 import (H5Options, _check_int, add_option_arguments, generate_h5,
                          options_from_args, run_cli)
from caffe_compat.diagnostics.progress import bars_wanted

__all__ = ["TRAIN", "TEST", "prepare_h5_files", "main"]

TRAIN = tuple(f"train_{i}" for i in range(1, 10))
TEST = tuple(f"dev_{i}" for i in range(1, 10))


def _names(names, what):
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    names = [os.fspath(n).strip() for n in names]
    if not names:
        raise PortError(f"{what}: expected at least one sequence name")
    return names


def _names_hint(data_dir):
    """What ``data_dir`` holds and the flags that take it: a run on other sequences than the
    script's 18 (the bundled sample has train_1..train_3 and dev_1, dev_2) names them."""
    held = sorted((f[:-4] for f in os.listdir(data_dir) if f.endswith(".mat")),
                  key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
    if not held:
        return f"; {data_dir} holds no <seq>.mat file"
    train = [n for n in held if n.startswith("train")]
    test = [n for n in held if n not in train]
    hint = f"; {data_dir} holds {len(held)}: {', '.join(held)}"
    if train and test:
        hint += (f". Name the sequences to use: --train {','.join(train)} --test "
                 f"{','.join(test)} (train=, test= in prepare_h5_files())")
    else:
        hint += (". Name the sequences to use with --train A,B --test C,D (train=, test= in "
                 "prepare_h5_files())")
    return hint


def _input_path(data_dir, name):
    return os.path.join(data_dir, name if name.endswith(".mat") else name + ".mat")


def prepare_h5_files(data_dir, out_dir, train=TRAIN, test=TEST, mode="single",
                     augmentation=False, mean_sub=False, norm=False, split=1, mix=False,
                     mix_lr=(3, 4, 6), chunk=128, size=96, seed=0, multi_tail="error",
                     relative_list=False, progress=True):
    """Run prepare_h5_files.m: ``{'train': H5Result, 'test': H5Result}``.

    ``train``/``test``: sequence names (``<data_dir>/<name>.mat``) or a comma-separated string.
    ``chunk`` and ``size`` are the script's 128 and 96 (``chunksz``, ``inputsz``).
    """
    from .rng import MatlabRandomStream

    data_dir = os.fspath(data_dir)
    out_dir = os.fspath(out_dir)
    if not os.path.isdir(data_dir):
        raise PortError(f"data_dir: {data_dir} is not a folder (expected the <seq>.mat files "
                        f"prepare_dataset.m saves)")
    opt = H5Options.coerce({"mode": mode, "augmentation": augmentation, "mean_sub": mean_sub,
                            "norm": norm, "split": split, "mix": mix, "mix_lr": mix_lr,
                            "multi_tail": multi_tail})
    stream = MatlabRandomStream(_check_int(seed, "seed", 0))
    train_inputs = [_input_path(data_dir, n) for n in _names(train, "train")]
    test_inputs = [_input_path(data_dir, n) for n in _names(test, "test")]
    missing = [p for p in train_inputs + test_inputs if not os.path.isfile(p)]
    if missing:
        raise PortError(f"data_dir: {len(missing)} input file(s) missing, first {missing[0]}"
                        + _names_hint(data_dir))
    list_paths = "relative" if relative_list else "absolute"
    results = {}
    for what, inputs in (("train", train_inputs), ("test", test_inputs)):
        results[what] = generate_h5(inputs, size, os.path.join(out_dir, what), chunk, opt,
                                    stream, progress=progress, list_paths=list_paths)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m matlab_ports.prepare_h5_files",
        description="prepare_h5_files.m: train and test HDF5 files (and list files) from the "
                    "<seq>.mat files of prepare_dataset.m, drawing from one random stream.")
    parser.add_argument("--data", required=True, help="folder of <seq>.mat files (data_path)")
    parser.add_argument("--out", required=True, help="output folder (h5_files/HQ)")
    parser.add_argument("--train", default=",".join(TRAIN),
                        help="comma-separated training sequences (train_1..train_9)")
    parser.add_argument("--test", default=",".join(TEST),
                        help="comma-separated test sequences (dev_1..dev_9)")
    add_option_arguments(parser)
    args = parser.parse_args(argv)

    def go():
        opt = options_from_args(args)
        res = prepare_h5_files(args.data, args.out, args.train, args.test, opt.mode,
                               opt.augmentation, opt.mean_sub, opt.norm, opt.split, opt.mix,
                               opt.mix_lr, args.chunk, args.size, args.seed, opt.multi_tail,
                               args.relative_list, progress=bars_wanted(args.quiet))
        for what in ("train", "test"):
            print(f"[{what}]")
            for line in res[what].describe():
                print(line)
        return 0

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
