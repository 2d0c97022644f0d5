"""Drawn faces that show RAVDESS's 8 expressions, for the labelled bundled sample.

An expression is a set of facial movements, each a number in about [-1, 1] (0: the actor's
rest face), loosely after FACS action units:

=============  ======================================================  =====================
movement       drawn as                                                action units
=============  ======================================================  =====================
``smile``      mouth corners up (+) or down (-)                        AU12 / AU15
``open``       jaw drop: the lips part                                 AU25-27
``stretch``    mouth wider (+) or pressed narrower (-)                 AU20 / AU23
``brow_raise`` both brows up (+) or pulled down (-)                    AU1+2 / AU4
``brow_inner`` inner brow ends up (+, grief, fear) or down (-, anger)  AU1 / AU4
``eye_open``   eyes wide (+) or narrowed (-)                           AU5 / AU7
``lid``        upper lids lowered, relaxed (+)                         AU43 (partial)
``wrinkle``    nose wrinkle lines and a raised upper lip               AU9 / AU10
=============  ======================================================  =====================

:data:`PROTOTYPES` holds each emotion's movements at full (strong) intensity; the actor's own
expressiveness scales each movement (:func:`actor_style`). Calm is close to neutral (relaxed
lids and a trace of a smile), as in RAVDESS where the two are the classes most confused.
The drawing primitives (pose, filled polygons, ellipses, identity, background) are the AVEC-like
sample's (:mod:`reproduction.sample`), so both samples look alike.
"""
from __future__ import annotations

import math

import numpy as np

from .. import sample as _avec_sample
from .labels import RAVDESS_EMOTIONS

__all__ = ["MOVEMENTS", "PROTOTYPES", "actor_style", "draw_face"]

MOVEMENTS = ("smile", "open", "stretch", "brow_raise", "brow_inner", "eye_open", "lid",
             "wrinkle")
_P = dict
PROTOTYPES = {
    "neutral": _P(),
    "calm": _P(lid=0.55, smile=0.2, brow_raise=-0.1),
    "happy": _P(smile=1.0, open=0.35, stretch=0.6, eye_open=-0.35),
    "sad": _P(smile=-0.8, brow_inner=1.0, eye_open=-0.3, lid=0.35, stretch=-0.2),
    "angry": _P(brow_inner=-1.0, brow_raise=-0.6, eye_open=0.15, smile=-0.35, open=0.2,
                stretch=-0.3),
    "fearful": _P(brow_raise=0.8, brow_inner=0.8, eye_open=1.0, open=0.5, stretch=0.8,
                  smile=-0.3),
    "disgust": _P(wrinkle=1.0, smile=-0.6, brow_inner=-0.5, eye_open=-0.55, open=0.15,
                  stretch=-0.1),
    "surprised": _P(brow_raise=1.0, eye_open=1.0, open=1.0, stretch=-0.35),
}
assert tuple(PROTOTYPES) == RAVDESS_EMOTIONS


def actor_style(rng):
    """An actor's expressiveness: a gain per movement (0.7-1.2) and a rest face (small
    offsets of smile, brows and eyes)."""
    gain = {m: float(rng.uniform(0.7, 1.2)) for m in MOVEMENTS}
    rest = {m: 0.0 for m in MOVEMENTS}
    rest.update(smile=float(rng.uniform(-0.1, 0.1)), brow_raise=float(rng.uniform(-0.1, 0.1)),
                eye_open=float(rng.uniform(-0.1, 0.1)))
    return dict(gain=gain, rest=rest)


def movements(emotion, amount, style):
    """The movements of ``emotion`` at ``amount`` (0 rest, 1 the strong prototype) for an
    actor's ``style``."""
    proto = PROTOTYPES[emotion]
    return {m: style["rest"][m] + amount * style["gain"][m] * proto.get(m, 0.0)
            for m in MOVEMENTS}


def _brows(img, pose, ident, e):
    fill, stroke = _avec_sample._fill, _avec_sample._stroke
    ey, thick, skin = ident["eye_y"], ident["brow_thick"], ident["skin"]
    raise_, inner_up = e["brow_raise"], e["brow_inner"]
    for sx in (-1.0, 1.0):
        base = ey - ident["brow_gap"] - 0.07 * raise_
        inner = (sx * (0.1 + 0.02 * min(inner_up, 0.0)), base - 0.08 * inner_up)
        outer = (sx * (ident["eye_x"] + ident["eye_w"] + 0.06), base + 0.03 * inner_up)
        k = np.linspace(0.0, 1.0, 9)
        xs = inner[0] + k * (outer[0] - inner[0])
        ys = inner[1] + k * (outer[1] - inner[1]) - (0.05 + 0.02 * raise_) * np.sin(math.pi * k)
        half = thick * (1.0 - 0.45 * k) / 2.0
        fill(img, pose, np.concatenate([np.stack([xs, ys - half], 1),
                                        np.stack([xs, ys + half], 1)[::-1]]), ident["brow"])
    if inner_up < -0.1:                                  # frown lines between the brows
        for sx in (-1.0, 1.0):
            y0 = ey - ident["brow_gap"] - 0.02
            stroke(img, pose, [(sx * 0.05, y0), (sx * 0.035, y0 + 0.12)],
                   skin * (1.0 + 0.35 * inner_up))
    if raise_ > 0.3:                                     # forehead lines
        for j in range(2):
            y = ey - ident["brow_gap"] - 0.2 - 0.08 * j
            stroke(img, pose, [(-0.3, y + 0.01), (0.0, y), (0.3, y + 0.01)],
                   skin * (1.0 - 0.15 * raise_))


def _eyes(img, pose, ident, e, eye_factor, gaze):
    ellipse = _avec_sample._ellipse
    ew, ey, skin = ident["eye_w"], ident["eye_y"], ident["skin"]
    openness = ident["eye_open"] * (1.0 + 0.45 * e["eye_open"]) * (1.0 - 0.45 * max(e["lid"], 0))
    openness = max(openness, 0.05) * eye_factor
    eh = max(0.11 * ew / 0.18 * openness, 0.012)
    iris_r = 0.46 * ew
    for sx in (-1.0, 1.0):
        cx = sx * ident["eye_x"]
        ellipse(img, pose, (cx, ey - eh - 0.05), (ew * 1.05, 0.05), skin * 0.86, 200, 340, 1)
        ellipse(img, pose, (cx, ey), (ew, eh), (238, 236, 228))
        ic = (cx + gaze[0] * 0.3 * ew, ey + gaze[1] * 0.2 * eh)
        ellipse(img, pose, ic, (iris_r, min(iris_r, 0.95 * eh)), ident["iris"])
        ellipse(img, pose, ic, (0.45 * iris_r, min(0.45 * iris_r, 0.6 * eh)), (18, 14, 12))
        ellipse(img, pose, (cx, ey), (ew, eh), (40, 30, 28), 180, 360, 2)
        ellipse(img, pose, (cx, ey), (ew, eh), skin * 0.7, 0, 180, 1)
        if e["smile"] > 0.4:                             # cheeks raised under the eyes
            ellipse(img, pose, (cx, ey + eh + 0.05), (ew * 0.9, 0.03), skin * 0.85, 20, 160, 1)


def _mouth(img, pose, ident, e, talk):
    fill, stroke = _avec_sample._fill, _avec_sample._stroke
    skin, u = ident["skin"], _avec_sample._U
    smile = e["smile"]
    mw = ident["mouth_w"] * (1.0 + 0.18 * e["stretch"] + 0.1 * max(smile, 0.0))
    my = ident["mouth_y"]
    xs = u * mw
    mid = my + 0.2 * smile * (1.0 / 3.0 - u ** 2)
    bell = (1.0 - u ** 2) ** 0.7
    lift = 0.05 * max(e["wrinkle"], 0.0) * bell           # upper lip raised (disgust)
    gap = (0.14 * max(e["open"], 0.0) + 0.06 * talk) * bell + lift
    upper = mid - gap - (0.05 * bell + 0.008)
    lower = mid + gap + (0.07 * bell + 0.008)
    fill(img, pose, np.concatenate([np.stack([xs, upper], 1),
                                    np.stack([xs, lower], 1)[::-1]]), ident["lips"])
    if gap.max() > 0.004:
        fill(img, pose, np.concatenate([np.stack([xs, mid - gap], 1),
                                        np.stack([xs, mid + gap], 1)[::-1]]), (58, 22, 26))
        if smile > 0.2 or e["wrinkle"] > 0.3 or e["brow_inner"] < -0.5:
            teeth = np.minimum(gap * 2.0, 0.05 * bell)
            fill(img, pose, np.concatenate([np.stack([xs * 0.75, mid - gap], 1),
                                            np.stack([xs * 0.75, mid - gap + teeth], 1)[::-1]]),
                 (226, 224, 214))
    stroke(img, pose, np.stack([xs, mid], 1), ident["lips"] * 0.55)
    if smile > 0.1:                                       # smile folds beside the mouth
        for sx in (-1.0, 1.0):
            k = np.linspace(0.0, 1.0, 7)
            fold = np.stack([sx * (0.2 + (mw - 0.1) * k + 0.1 * np.sin(math.pi * k)),
                             0.24 + (my - 0.2) * k], 1)
            stroke(img, pose, fold, skin * (1.0 - 0.3 * smile))
    if e["wrinkle"] > 0.2:                                # nose wrinkle lines
        for sx in (-1.0, 1.0):
            for j in range(2):
                y = 0.05 + 0.06 * j
                stroke(img, pose, [(sx * 0.04, y), (sx * 0.12, y - 0.03)],
                       skin * (1.0 - 0.3 * e["wrinkle"]))


def draw_face(img, pose, ident, e, talk=0.0, eye_factor=1.0, gaze=(0.0, 0.0)):
    """Draw the person of ``ident`` (:func:`reproduction.sample._identity`) at ``pose`` with
    the movements ``e`` (:func:`movements`), mouth opening ``talk`` from speech, blink factor
    ``eye_factor`` and gaze."""
    S = _avec_sample
    skin, aspect = ident["skin"], ident["aspect"]
    S._ellipse(img, pose, (0.0, 2.45 * aspect / 1.28), (2.1, 0.95), ident["clothes"])
    S._fill(img, pose, [(-0.42, 0.6), (0.42, 0.6), (0.5, 1.9), (-0.5, 1.9)], skin * 0.82)
    for sx in (-1.0, 1.0):
        S._ellipse(img, pose, (sx * 0.98, 0.02), (0.14, 0.26), skin * 0.88)
    vol = ident["hair_volume"]
    S._ellipse(img, pose, (0.0, -0.12), (vol, aspect * 0.98), ident["hair"], 180, 360)
    outline = S._head_outline(ident)
    S._fill(img, pose, outline, skin * 0.9)
    S._fill(img, pose, outline * np.array([0.9, 0.93]) + np.array([0.0, -0.02]), skin)
    arc = np.linspace(math.pi, 2.0 * math.pi, 25)
    top = np.stack([vol * np.cos(arc), -0.12 + aspect * np.sin(arc)], axis=1)
    xs = np.linspace(vol, -vol, 21)
    hairline = np.stack([xs, -ident["hairline"] * aspect + 0.45 * xs ** 2 - 0.12], axis=1)
    S._fill(img, pose, np.concatenate([top, hairline]), ident["hair"])
    _eyes(img, pose, ident, e, eye_factor, gaze)
    _brows(img, pose, ident, e)
    S._stroke(img, pose, [(-0.03, -0.02), (-0.08, 0.26), (-0.02, 0.31), (0.06, 0.29)],
              skin * 0.78)
    for sx in (-1.0, 1.0):
        S._ellipse(img, pose, (sx * 0.07, 0.31), (0.035 * (1 + 0.3 * max(e["wrinkle"], 0)),
                                                  0.018), skin * 0.55)
    _mouth(img, pose, ident, e, talk)
