"""Maclean 2021's protocol end to end, resumable: ``python -m reproduction classify``.

Steps, each kept in ``OUT/work`` and skipped when its output is there:

1. data: the labelled bundled sample (:mod:`.sample`) written into ``OUT/sample`` unless
   ``ravdess`` names a RAVDESS root; the video-only speech clips (:mod:`.ravdess`);
   actor-disjoint folds kept in ``OUT/folds.json``; fold ``test_fold`` is tested, the other
   actors train;
2. faces: every clip decoded once, its whole frames degraded to 720p, 360p and 144p, the face
   found in each degraded frame and cropped (:mod:`.frames`); one ``.npz`` per clip;
3. per-frame net: the small net (:mod:`.perframe`) trained on the training actors' 720p faces,
   or on FER+'s training faces when ``ferplus_dir`` is given; with ``init_weights`` as well,
   the seed's ResNet-50 fine-tuned on FER+ from that caffemodel (:mod:`.perframe_resnet`);
4. outputs: its class probabilities and features (the small net's ``fc4``, ResNet-50's
   ``pool5``) on every face;
5. CNN-LSTM: trained on the training clips' feature sequences of all 9 conditions;
6. report: for the test clips, the accuracy tables of mean, mode and CNN-LSTM (resolution x
   frame rate), confusion matrices at 720p / 30 fps, the per-frame Table 1, and a summary with
   the seed's findings and what the sample says of each (:mod:`.report`).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ReproductionError
from . import clips as C
from . import frames as F
from . import perframe as P
from . import perframe_nets as PN
from . import perframe_resnet as PR
from . import ravdess as R
from .labels import RAVDESS_EMOTIONS

__all__ = ["Schedule", "SCHEDULES", "run"]



def _proto(name):
    """A definition of ``prototxt/`` (the installed package's copy, or the checkout's)."""
    from lq_models import prototxt_path
    return str(prototxt_path(name))


@dataclass(frozen=True)
class Schedule:
    """Sizes of a run. ``frame_iters`` / ``frame_batch``: the per-frame net's training;
    ``lstm_iters`` / ``lstm_streams`` / ``lstm_hidden``: the CNN-LSTM's (the seed: 1024
    units)."""
    name: str
    frame_iters: int
    frame_batch: int
    lstm_iters: int
    lstm_streams: int
    lstm_hidden: int


SCHEDULES = {
    "sample": Schedule("sample", 300, 32, 200, 16, 128),
    "full": Schedule("full", 4000, 32, 2000, 16, 1024),
}


def _save_json(path, obj):
    from caffe_compat.io.atomic import write_text_atomic
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _faces(clips, work, progress, min_face):
    """Step 2: ``{stem: {res: (crops, found)}}``, one npz per clip in ``work/faces``."""
    from tqdm import tqdm

    from caffe_compat.io.atomic import atomic_path
    folder = os.path.join(work, "faces")
    os.makedirs(folder, exist_ok=True)
    detectors = {}
    out = {}
    for clip in tqdm(clips, desc="faces (3 resolutions)", unit="clip", disable=not progress):
        path = os.path.join(folder, clip.stem + ".npz")
        if not os.path.isfile(path):
            frames = F.read_clip(clip.path)
            arrays = {}
            for res, size in F.RESOLUTIONS.items():
                det = detectors.setdefault(res, F.detector_for(size, min_face))
                crops, found = F.face_crops(frames, size, det)
                arrays[f"crops_{res}"], arrays[f"found_{res}"] = crops, found
            with atomic_path(path, ".npz") as tmp:
                np.savez(tmp, **arrays)
        with np.load(path) as z:
            out[clip.stem] = {res: (z[f"crops_{res}"], z[f"found_{res}"])
                              for res in F.RESOLUTIONS}
    return out


def _ferplus_faces(ferplus_dir, usage):
    """FER+'s faces of one usage (7 classes), labels as RAVDESS class indices (module doc of
    :mod:`.labels`: FER+'s classes read as RAVDESS's of the same name), and FER+'s names."""
    from .ferplus import read_ferplus
    from .labels import FERPLUS_TO_RAVDESS
    d = read_ferplus(os.path.join(ferplus_dir, "fer2013.csv"),
                     os.path.join(ferplus_dir, "fer2013new.csv"), classes=7)
    images, labels = d.part(usage)
    if not len(images):
        raise ReproductionError(f"{ferplus_dir}: FER+ has no {usage} face")
    to_ravdess = np.array([RAVDESS_EMOTIONS.index(FERPLUS_TO_RAVDESS[c]) for c in d.classes])
    return images, to_ravdess[labels], [FERPLUS_TO_RAVDESS[c] for c in d.classes]


def _starting_point(init_weights, work, kind):
    """The ResNet-50's :class:`.perframe_resnet.StartingPoint`, the same as the one this
    ``OUT`` was started from (kept in ``work/<net>/init.json``), or None without one."""
    if init_weights is None:
        return None
    folder = os.path.join(work, kind.folder)
    os.makedirs(folder, exist_ok=True)
    init = PR.resolve_init(init_weights, folder)
    kept = os.path.join(folder, "init.json")
    if os.path.isfile(kept):
        with open(kept, encoding="utf-8") as f:
            before = json.load(f)
        if before.get("sha256") != init.sha256:
            raise ReproductionError(
                f"{kept}: this output folder's ResNet-50 was started from {before.get('spec')} "
                f"(sha256 {before.get('sha256')}), not from {init_weights}; give another --out "
                f"or delete {folder} and the outputs and CNN-LSTM made from it")
    else:
        _save_json(kept, dict(spec=init.spec, sha256=init.sha256, layout=init.layout,
                              mean_bgr=list(init.mean_bgr)))
    return init


def _train_perframe(train, faces, work, sched, device, progress, ferplus_dir=None,
                    kind=P.SMALL, init=None):
    folder = os.path.join(work, kind.folder)
    os.makedirs(folder, exist_ok=True)
    listing = os.path.join(folder, "perframe_list.txt")
    if not os.path.isfile(listing):
        if ferplus_dir is not None:
            images, labels, _ = _ferplus_faces(ferplus_dir, "train")
        else:
            x, y = [], []
            for clip in train:
                crops = faces[clip.stem]["720p"][0]
                idx = P.held_frames(len(crops))
                x.append(crops[idx])
                y.append(np.full(len(idx), clip.label))
            images, labels = np.concatenate(x), np.concatenate(y)
        written = kind.write_training(folder, images, labels, init)
        from caffe_compat.io.atomic import write_text_atomic
        write_text_atomic(listing, os.path.abspath(written) + "\n")
    with open(listing, encoding="utf-8") as f:
        written = f.read().strip()
    return kind.train(written, folder, sched, device, progress, init)


def _outputs(clips, faces, weights, work, device, kind=P.SMALL, init=None):
    """Step 4: ``{(stem, res): (prob, features)}``, kept in ``work/outputs<tag>.npz``."""
    from caffe_compat.io.atomic import atomic_path
    path = os.path.join(work, f"outputs{kind.tag}.npz")
    keys = [(c.stem, res) for c in clips for res in F.RESOLUTIONS]
    if not os.path.isfile(path):
        net = P.deploy_net(_proto(kind.deploy), weights, device)
        allfaces = np.concatenate([faces[s][r][0] for s, r in keys])
        prob, feat = P.frame_outputs(net, allfaces, kind.batch,
                                     lambda f: kind.inputs(f, init), kind.feature)
        sizes = [len(faces[s][r][0]) for s, r in keys]
        with atomic_path(path, ".npz") as tmp:
            np.savez(tmp, prob=prob, feat=feat, sizes=np.array(sizes))
    with np.load(path) as z:
        prob, feat, sizes = z["prob"], z["feat"], z["sizes"]
    if len(sizes) != len(keys):
        raise ReproductionError(f"{path}: made for another set of clips; delete it")
    ends = np.cumsum(sizes)
    return {k: (prob[e - n:e], feat[e - n:e]) for k, n, e in zip(keys, sizes, ends)}


def _conditions():
    return [(res, fps) for res in F.RESOLUTIONS for fps in F.FRAME_RATES]


def _steps(outputs, clip, res, fps):
    prob, feat = outputs[(clip.stem, res)]
    idx = F.frame_indices(len(prob), fps)
    return prob[idx], feat[idx]


def _train_lstm(train, outputs, work, sched, device, progress, tag=""):
    from .caffe_training import train as train_net
    folder = os.path.join(work, f"lstm{tag}")
    os.makedirs(folder, exist_ok=True)
    h5 = os.path.join(folder, "train_seq.h5")
    listing = h5[:-3] + ".txt"
    if not os.path.isfile(listing):
        seqs, labels = [], []
        for clip in train:
            for res, fps in _conditions():
                seqs.append(C.to_steps(_steps(outputs, clip, res, fps)[1]))
                labels.append(clip.label)
        C.write_sequences(h5, seqs, labels, sched.lstm_streams)
    overrides = {("lstm", "recurrent_param.num_output"): sched.lstm_hidden}
    return train_net("emotion_lstm", _proto("emotion_lstm_solver.prototxt"),
                     _proto("emotion_lstm_train_val.prototxt"), listing,
                     folder, sched.lstm_iters, C.T, overrides=overrides, device=device,
                     progress=progress)


def _predict(test, outputs, lstm_weights, sched, device):
    """``{method: {(res, fps): predicted classes of the test clips}}``."""
    dim = next(iter(outputs.values()))[1].shape[1]
    net = C.lstm_net(_proto("emotion_lstm_deploy.prototxt"), lstm_weights,
                     dim, sched.lstm_hidden, sched.lstm_streams, device)
    pred = {"mean": {}, "mode": {}, "lstm": {}}
    for res, fps in _conditions():
        steps = [_steps(outputs, c, res, fps) for c in test]
        pred["mean"][(res, fps)] = np.array([C.mean_class(p) for p, _ in steps])
        pred["mode"][(res, fps)] = np.array([C.mode_class(p) for p, _ in steps])
        seqs = np.stack([C.to_steps(f) for _, f in steps])
        pred["lstm"][(res, fps)] = C.lstm_classes(net, seqs, sched.lstm_streams)[0]
    return pred


def _ferplus_test(ferplus_dir, weights, device, kind=P.SMALL, init=None):
    """(true, predicted, class names) of FER+'s test faces with the per-frame net."""
    if ferplus_dir is None:
        return None
    images, labels, names = _ferplus_faces(ferplus_dir, "test")
    net = P.deploy_net(_proto(kind.deploy), weights, device)
    prob = P.frame_outputs(net, images, kind.batch, lambda f: kind.inputs(f, init),
                           kind.feature)[0]
    return labels, prob.argmax(axis=1), names


def run(out, ravdess_root=None, schedule="sample", actors=6, frames=20, folds=3, test_fold=0,
        device="cpu", seed=0, progress=True, log=print, ferplus_dir=None, init_weights=None):
    """The whole protocol (module doc) into ``out``; returns the report's dict. With
    ``ferplus_dir`` (holding fer2013.csv and fer2013new.csv) the per-frame net learns FER+'s
    training faces (7 classes, read as the RAVDESS classes of the same name, as the seed's
    FER+ net votes for RAVDESS clips) and Table 1 is on FER+'s test faces. ``init_weights``
    (a ResNet-50 caffemodel path or a zoo key of published weights; needs ``ferplus_dir``)
    makes the per-frame net the seed's ResNet-50 fine-tuned from it."""
    from . import report
    t0, cpu0 = time.perf_counter(), time.process_time()
    sched = SCHEDULES[schedule]
    if init_weights is not None and ferplus_dir is None:
        raise ReproductionError("--init-weights fine-tunes ResNet-50 on FER+'s faces: give "
                                "--ferplus FOLDER (with fer2013.csv and fer2013new.csv) too")
    if ferplus_dir is not None:
        for name in ("fer2013.csv", "fer2013new.csv"):
            if not os.path.isfile(os.path.join(ferplus_dir, name)):
                raise ReproductionError(f"{os.path.join(ferplus_dir, name)}: no such file "
                                        "(--ferplus names the folder holding FER's "
                                        "fer2013.csv and FER+'s fer2013new.csv)")
    kind = PN.get("small" if init_weights is None else "resnet50")
    out = os.path.abspath(os.fspath(out))
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    timings, cpu = {}, {"at": time.process_time()}

    def lap(name, since):
        now = time.process_time()
        timings[name] = dict(wall_s=round(time.perf_counter() - since, 1),
                             cpu_s=round(now - cpu["at"], 1))
        cpu["at"] = now
        return time.perf_counter()

    init = _starting_point(init_weights, work, kind)       # checked before any long step
    log("per-frame net: " + (init.describe() if init else "the small net (3 conv, fc 128)"))
    t = time.perf_counter()
    if ravdess_root is None:
        from .sample import make_labelled_sample
        ravdess_root = make_labelled_sample(os.path.join(out, "sample"), actors, frames,
                                            seed=seed, progress=progress)["root"]
        data = "bundled sample"
    else:
        data = f"RAVDESS at {ravdess_root}"
    all_clips = R.read_clips(ravdess_root)
    fold_list = R.load_or_make_folds(os.path.join(out, "folds.json"),
                                     [c.actor for c in all_clips], folds, seed)
    train, test = R.split(all_clips, fold_list, test_fold)
    log(f"{data}: {len(all_clips)} clips of {len({c.actor for c in all_clips})} actors; "
        f"test fold {test_fold}: actors {fold_list[test_fold]} ({len(test)} clips)")
    t = lap("data", t)
    faces = _faces(all_clips, work, progress,
                   F.SAMPLE_MIN_FACE if data == "bundled sample" else F.MIN_FACE)
    t = lap("faces", t)
    frame_net = _train_perframe(train, faces, work, sched, device, progress, ferplus_dir,
                                kind, init)
    t = lap("per-frame net", t)
    outputs = _outputs(all_clips, faces, frame_net["weights"], work, device, kind, init)
    t = lap("per-frame outputs", t)
    lstm = _train_lstm(train, outputs, work, sched, device, progress, kind.tag)
    t = lap("CNN-LSTM", t)
    pred = _predict(test, outputs, lstm["weights"], sched, device)
    t = lap("clip predictions", t)
    info = dict(data=data, schedule=asdict(sched), folds=fold_list, test_fold=test_fold,
                n_train=len(train), n_test=len(test), seed=seed)
    info["perframe_data"] = "FER+" if ferplus_dir else "training actors' 720p faces"
    info["perframe_net"] = init.describe() if init else "small net (3 conv, fc 128)"
    if init is not None:
        info["init"] = dict(spec=init.spec, layout=init.layout, sha256=init.sha256)
    result = report.write(out, test, faces, outputs, pred, info, RAVDESS_EMOTIONS,
                          _ferplus_test(ferplus_dir, frame_net["weights"], device, kind, init))
    lap("report", t)
    timings["total"] = dict(wall_s=round(time.perf_counter() - t0, 1),
                            cpu_s=round(time.process_time() - cpu0, 1))
    result["timings"] = timings
    _save_json(os.path.join(out, "run.json"), dict(info=info, timings=timings))
    return result
