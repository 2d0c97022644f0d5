"""prepare_dataset throughput: frames per second of decode + crop + resize on a synthetic
AVEC-like video, stage by stage.

    python benchmarks/bench_prepare_dataset.py [--frames 250] [--width 720] [--height 576]
        [--repeats 3] [--factor 4] [--keep DIR]

The video is written by :func:`reproduction.sample.make_sample` (one sequence, H.264 yuv420p,
a drawn face whose box is about 0.6 times the frame height, a few frames without a face or with
a small box), 720x576 by default (PAL SD). Stages, each the median of ``--repeats`` runs:

* decode: PyAV decoding of every frame (frame threads, as prepare_dataset opens the video);
* rgb24: FFmpeg's conversion of a decoded frame to RGB24 (only kept frames are converted);
* crop + Y: the box's pixels to ``single(Y)/255`` (Y of rgb2ycbcr on the crop only);
* resize: ``imresize(crop, [96 96], 'bicubic')`` (:func:`matlab_ports.imresize.imresize`);
* degrade: the script's ``--factor`` line (``imresize`` by 1/s and back to 96x96);
* whole sequence: :func:`matlab_ports.prepare_dataset.prepare_dataset`, without and with the
  save (``.mat`` v7, compressed as MATLAB's default ``save``, and v6, uncompressed).

Timings are wall-clock on whatever else the machine is doing: on a shared machine, compare runs
only with the load average printed at the top.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _median(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--height", type=int, default=576)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--factor", type=float, default=4.0, help="degradation factor timed (4)")
    ap.add_argument("--keep", default=None, help="write the synthetic data here (kept)")
    args = ap.parse_args(argv)

    import av

    from matlab_ports import avec
    from matlab_ports import prepare_dataset as pd
    from matlab_ports.imresize import imresize
    from reproduction.sample import make_sample

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="bench_prepare_")
    root = args.keep or tmp.name
    t = time.perf_counter()
    info = make_sample(os.path.join(root, "avec"), n_train=1, n_dev=0, n_frames=args.frames,
                       size=(args.width, args.height), seed=0, progress=False)
    files = info["files"]["train_1"]
    print(f"synthetic sequence: {args.frames} frames {args.width}x{args.height} H.264 "
          f"({os.path.getsize(files['video']) / 1e6:.1f} MB), written in "
          f"{time.perf_counter() - t:.1f} s; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs")
    bbox, _ = avec.read_bbox_mat(files["bbox"])
    kept = [i for i in range(len(bbox)) if pd.box_status(bbox[i]) == "kept"]
    sides = bbox[kept, 2]
    print(f"kept frames: {len(kept)} of {len(bbox)}, box side {sides.min():.0f}-"
          f"{sides.max():.0f} px")

    def decode():
        with av.open(files["video"]) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            return list(c.decode(s))

    frames = decode()
    t_decode = _median(decode, args.repeats)
    sub = [frames[i] for i in kept]
    t_rgb = _median(lambda: [f.to_ndarray(format="rgb24") for f in sub], args.repeats)
    rgbs = [f.to_ndarray(format="rgb24") for f in sub]
    del frames, sub
    boxes = [bbox[i] for i in kept]

    def crops():
        out = []
        for rgb, box in zip(rgbs, boxes):
            b = pd.crop_bounds(box, rgb.shape[0], rgb.shape[1])
            out.append(pd._single_over_255(pd.luma(pd._crop(rgb, b))))
        return out

    t_crop = _median(crops, args.repeats)
    patches = crops()
    t_resize = _median(lambda: [imresize(p, output_size=(96, 96)) for p in patches],
                       args.repeats)
    faces = [imresize(p, output_size=(96, 96)) for p in patches]
    t_degrade = _median(lambda: [pd.degrade(f, args.factor) for f in faces], args.repeats)

    n, k = args.frames, len(kept)
    print()
    print(f"{'stage':34} {'ms/frame':>9} {'frames/s':>9}")
    rows = [("decode (all frames)", t_decode, n),
            ("rgb24 conversion (kept frames)", t_rgb, k),
            ("crop + Y + single/255", t_crop, k),
            ("resize to 96x96", t_resize, k),
            (f"degrade x{args.factor:g} (--factor)", t_degrade, k)]
    for name, sec, count in rows:
        print(f"{name:34} {1e3 * sec / count:9.2f} {count / sec:9.0f}")

    out = os.path.join(root, "crops")
    avec_root = os.path.join(root, "avec")
    results = {}
    for label, kwargs in (("no factor", {}), (f"factor {args.factor:g}",
                                              {"factor": args.factor})):
        reps = []
        for _ in range(args.repeats):
            reps.append(pd.prepare_dataset(avec_root, out, force=True, progress=False,
                                           **kwargs)[0])
        results[label] = reps
    for version in ("6",):
        results["v6 save"] = [pd.prepare_dataset(avec_root, out, force=True, progress=False,
                                                 mat_version=version)[0]
                              for _ in range(args.repeats)]
    print()
    print(f"{'whole sequence (median)':34} {'frames/s':>9} {'w/o save':>9} {'save s':>7}  "
          "decode / crop / resize s")
    for label, reps in results.items():
        total = statistics.median(r.seconds for r in reps)
        save = statistics.median(r.timings["save"] for r in reps)
        parts = [statistics.median(r.timings[p] for r in reps)
                 for p in ("decode", "crop", "resize")]
        name = label if label != "v6 save" else "no factor, .mat v6 (uncompressed)"
        if label == "no factor":
            name = "no factor, .mat v7 (MATLAB default)"
        print(f"{name:34} {n / total:9.0f} {n / (total - save):9.0f} {save:7.2f}  "
              + " / ".join(f"{v:.2f}" for v in parts))
    print("crop includes the rgb24 conversion of kept frames; resize includes --factor; "
          f"load average now {os.getloadavg()[0]:.2f} (shared machine: timings are noisy)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
