"""Write the OpenCV 4 reference results of the cv2.dnn client programs (``scripts/``).

    PYTHONPATH=/tmp/cv4 python -m tests.caffe_compat.dnn.public_programs.make_fixtures [NAME ...]
    python -m tests.caffe_compat.dnn.public_programs.make_fixtures --measure [NAME ...]

(``--measure``: how far ours lands from the fixtures, under the installed OpenCV.)

Needs OpenCV 4.x, its own Caffe importer, ahead of the venv's OpenCV 5 on the path (installed
apart: ``pip install --target /tmp/cv4 "opencv-python-headless<5"``, then its numpy removed
from there so that the venv's is used), scikit-image and ``../shared/public-nets`` (the public
deploy files). Each program runs in its own process on OpenCV's importer (``runner.py``
without ``--ours``); ``fixtures/NAME.npz`` keeps what it computed, ``fixtures/programs.json``
the sha256 of the seeded weights it read, the OpenCV version, and for the values compared
exactly the margin that keeps them so (the gaps between the best classes' probabilities; each
keypoint's heat-map peak over the next highest value of its map; the detections' confidences
from the program's threshold and their box corners from a pixel cut; the fewest pixels of a
segmentation class and the widest class's lead against the pixels near a tie), so that a
reader sees how far from a tie each one is.
"""
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from caffe_compat.io.atomic import write_bytes_atomic, write_text_atomic

from .programs import PROGRAMS, missing_public, prepare

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
ROOT = os.path.abspath(os.path.join(HERE, *[os.pardir] * 4))


def run_programs(jobs, ours, env=None):
    """Run ``runner.py`` on ``jobs`` ([(name, folder, out)]) in one process (a forked child per
    program); the CompletedProcess."""
    cmd = [sys.executable, "-m", "tests.caffe_compat.dnn.public_programs.runner"]
    cmd += [x for job in jobs for x in job] + (["--ours"] if ours else [])
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)


def run_program(name, folder, out, ours, env=None):
    return run_programs([(name, folder, out)], ours, env)


def margins(name, result):
    program = PROGRAMS[name]
    if program.detections:
        var, threshold = program.detections
        rows = result[f"var/{var}"].reshape(-1, 7)
        conf = rows[:, 2]
        found = {"detections_passing": int((conf > threshold).sum()),
                 "smallest_distance_to_threshold": float(np.abs(conf - threshold).min())}
        if "var/bboxes" in result:
            # boxes in pixels are the corners times the frame's size cut to int: how far the
            # corners lie from a cut, in pixels (compared exactly)
            from .programs import video_frames
            h, w = video_frames()[0].shape[:2]
            px = rows[conf > threshold, 3:7] * np.array([w, h, w, h])   # as the program
            frac = px - np.floor(px)
            found["smallest_box_corner_distance_to_a_pixel_cut"] = float(
                np.minimum(frac, 1 - frac).min())
            found["tracks"] = int(len(np.unique(result["var/tracks"][:, 1])))
        return found
    if program.class_maps:
        var, scores = program.class_maps[0]
        s = np.asarray(result[f"var/{scores}"], np.float64)[0]
        top = np.sort(s, axis=0)
        gap = (top[-1] - top[-2]) / np.abs(s).max()
        counts = np.bincount(result[f"var/{var}"].ravel(), minlength=s.shape[0])
        return {"classes_present": int((counts > 0).sum()),
                "largest_class_share": float(counts.max() / counts.sum()),
                "fewest_pixels_of_a_present_class": int(counts[counts > 0].min()),
                "widest_class_lead_in_pixels": int(np.diff(np.sort(counts)[-2:])[0]),
                "pixels_within_2e-4_of_a_tie": int((gap <= 2e-4).sum())}
    if "var/classId" in result:
        p = np.sort(result["var/out"].ravel())[::-1]
        k = len(result["var/top"])
        return {"class_probability_gap": float(p[0] - p[1]),
                "smallest_gap_among_the_best": float(np.diff(-p[:k + 1]).min())}
    if "var/points" in result:
        heat = result["var/" + program.arrays[0]][0][:len(result["var/points"])]
        gaps = []
        for m in heat:
            v = np.sort(m.ravel())[::-1]
            gaps.append(float(v[0] - v[1]))
        return {"smallest_keypoint_peak_gap": min(gaps)}
    return {}


def measure(names=None):
    """Print, per program and value, how far ours (after install(), under the installed
    OpenCV) lands from the OpenCV 4 fixture: the largest difference over the value's largest
    magnitude (for detections, after pairing rows of equal score)."""
    names = names or sorted(n for n in PROGRAMS if not PROGRAMS[n].slow)
    missing = [(n, missing_public(PROGRAMS[n])) for n in names if missing_public(PROGRAMS[n])]
    if missing:
        sys.exit("\n".join(f"{n}: {path} is absent" for n, path in missing))
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for name in names:
            folder = os.path.join(tmp, name)
            prepare(PROGRAMS[name], folder)
            jobs.append((name, folder, os.path.join(folder, "ours.npz")))
        proc = run_programs(jobs, ours=True)
        if proc.returncode:
            sys.exit(proc.stderr)
        for name, _, out in jobs:
            got = dict(np.load(out))
            want = dict(np.load(os.path.join(FIXTURES, f"{name}.npz")))
            for key in sorted(k for k in want if k.startswith("var/")):
                a, b = np.asarray(got[key], np.float64), np.asarray(want[key], np.float64)
                if key == "var/detections":
                    a, b = a.reshape(-1, 7), b.reshape(-1, 7)
                    a = a[np.abs(a[:, None, :] - b[None, :, :]).max(axis=2).argmin(axis=0)]
                err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
                print(f"{name:16s} {key[4:]:12s} scale {np.abs(b).max():9.4g}  "
                      f"difference {err:.2g} of it")


def main(names=None):
    if names and names[0] == "--measure":
        return measure(names[1:])
    import cv2
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        sys.exit(f"OpenCV {cv2.__version__} has no Caffe importer: the fixtures are OpenCV 4's "
                 "answers (pip install --target /tmp/cv4 'opencv-python-headless<5', then "
                 "PYTHONPATH=/tmp/cv4)")
    os.makedirs(FIXTURES, exist_ok=True)
    meta_path = os.path.join(FIXTURES, "programs.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    meta = {name: entry for name, entry in meta.items() if name in PROGRAMS}
    from tqdm import tqdm
    for name in tqdm(names or sorted(PROGRAMS), desc="programs"):
        with tempfile.TemporaryDirectory() as folder:
            digest = prepare(PROGRAMS[name], folder)
            out = os.path.join(folder, "out.npz")
            proc = run_program(name, folder, out, ours=False)
            if proc.returncode:
                sys.exit(f"{name} failed under OpenCV {cv2.__version__}:\n{proc.stderr}")
            result = dict(np.load(out))
        buf = io.BytesIO()
        np.savez_compressed(buf, **result)
        write_bytes_atomic(os.path.join(FIXTURES, f"{name}.npz"), buf.getvalue())
        meta[name] = {"weights_sha256": digest, "opencv": str(result["opencv"]),
                      **margins(name, result)}
    write_text_atomic(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
