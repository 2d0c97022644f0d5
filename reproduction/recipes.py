"""The paper's training recipe for every model of Table 1, as the model zoo records it.

One :class:`Recipe` per model to train: which data it learns from, which of our prototxt files
define the net and the solver, what initialises it, how many iterations it runs. The facts come
from :mod:`lq_models` (``zoo.json``), so the pipeline and the zoo cannot disagree:

=============  ================================  ==========================  ===================
model          data                              net / solver                init
=============  ================================  ==========================  ===================
srfcn-<s>      SR patches degraded by s          srfcn_train_val / solver    gaussian fillers
hr             96x96 HR faces                    cnnd_train_val / solver     xavier fillers
lr-<s>         faces degraded by s               cnnd_train_val / solver     xavier fillers
nonjoint-<s>   faces degraded by s               cnnd_nonjoint (lr_mult 0)   conv1-3 of srfcn-<s>
joint-<s>      faces degraded by s               cnnd_joint (lr_mult 0.1)    conv1-3 of srfcn-<s>
joint-oa       faces degraded by s drawn from    cnnd_joint (lr_mult 0.1)    conv1-3 of the SR-FCN
               the mix {3, 4, 6} (max-mix)                                   at max(mix) = 6
=============  ================================  ==========================  ===================

Iterations are the solvers' ``max_iter`` (CNN+D 30,000; Joint 60,000; Non-Joint 120,000;
SR-FCN 500,000 at the published base_lr 1e-4) times a :class:`Schedule`'s scale, or set per
family. Four schedules are predefined:

* ``full``: the published solvers as they are (batch 128 from the nets, test passes on the dev
  set every ``test_interval`` iterations);
* ``quick``: every iteration count divided by 100, no test passes (``reproduce --quick``);
* ``demo``: the few hundred iterations the bundled-sample demo affords on two CPU cores (see
  :mod:`reproduction.demo`);
* ``long``: the demo's recipe with more iterations, for ``demo --budget long``
  (:mod:`reproduction.long_budget`).

``sr_lr='paper'`` trains the SR-FCN at the constant lr 0.01 the paper's text states instead of
the published solver's 1e-4; ``sr_filler='xavier'`` replaces the SR-FCN's gaussian(0.001)
weight fillers by xavier ones (a departure used only by short schedules: with the published
fillers a few hundred iterations leave conv1-conv3 at their near-zero start, measured here).
``sr_solver='Adam'`` trains the SR-FCN with Caffe's Adam solver (momentum 0.9, momentum2 0.999,
delta 1e-8) at the schedule's base_lr instead of the published SGD with momentum: the ``long``
schedule's departure, because SGD at an lr small enough for xavier weights does not make the
SR-FCN beat bicubic interpolation within its iterations (docs/reproduction.md).
"""
from __future__ import annotations

import dataclasses
import math

import lq_models

__all__ = ["METHODS", "OPTIONAL_METHODS", "PAPER_FACTORS", "DEFAULT_MIX", "FAMILIES",
           "Schedule", "SCHEDULES",
           "Recipe", "Evaluation", "RecipeError", "recipe", "plan", "evaluations",
           "parse_methods", "parse_factors", "method_name"]

METHODS = ("hr", "lr", "nonjoint", "joint", "joint-oa")
# beyond the paper (reproduction.grid_steps): the CNN-LSTM over fc4 features and the CNN+D
# fine-tuned on CCCLoss, both evaluated on the resolution x frame-rate grid
OPTIONAL_METHODS = ("lstm", "ccc")
PAPER_FACTORS = (3, 4, 6, 8, 12, 16)
DEFAULT_MIX = (3, 4, 6)
# training families: the solver file decides the family's iteration count
FAMILIES = ("srfcn", "cnnd", "nonjoint", "joint", "lstm", "ccc")
# the SR-FCN's solver: the published file's SGD, or Caffe's Adam (the long schedule)
SR_SOLVERS = ("published", "Adam")
_METHOD_FAMILY = {"srfcn": "srfcn", "hr": "cnnd", "lr": "cnnd", "nonjoint": "nonjoint",
                  "joint": "joint", "joint-oa": "joint"}


def _positive_float(value):
    """``value`` as a finite positive float, or None."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


class RecipeError(ValueError):
    """A method, factor or schedule the paper's recipes do not cover."""


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How long and with which batch every family trains (see the module doc).

    ``iter_scale`` multiplies the solvers' ``max_iter``; ``iters`` (family -> count) wins over
    it; ``batch`` / ``sr_batch`` set the training batch of the CNN+D / SR-FCN nets (None: the
    nets' 128); ``snapshot``: snapshot interval (None: the solver's, capped at max_iter);
    ``test``: keep the solvers' test passes; ``sr_lr``: 'published', 'paper' or a base_lr; ``sr_filler``:
    'published' or 'xavier'; ``sr_solver``: 'published' (the solver file's SGD) or 'Adam';
    ``chunk``: samples per HDF5 chunk (generate_h5's chunksz, 128).
    """
    name: str = "full"
    iter_scale: float = 1.0
    iters: tuple = ()
    batch: int | None = None
    sr_batch: int | None = None
    snapshot: int | None = None
    test: bool = True
    sr_lr: str = "published"
    sr_filler: str = "published"
    sr_solver: str = "published"
    chunk: int = 128

    def __post_init__(self):
        if not (isinstance(self.iter_scale, (int, float)) and self.iter_scale > 0
                and math.isfinite(self.iter_scale)):
            raise RecipeError(f"schedule {self.name}: iter_scale must be a positive number, "
                              f"got {self.iter_scale!r}")
        for fam, n in dict(self.iters).items():
            if fam not in FAMILIES:
                raise RecipeError(f"schedule {self.name}: unknown family {fam!r} in iters "
                                  f"(families: {', '.join(FAMILIES)})")
            if not isinstance(n, int) or n < 1:
                raise RecipeError(f"schedule {self.name}: iters[{fam}] must be a positive "
                                  f"integer, got {n!r}")
        for what in ("batch", "sr_batch", "snapshot"):
            v = getattr(self, what)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise RecipeError(f"schedule {self.name}: {what} must be a positive integer or "
                                  f"None, got {v!r}")
        if self.sr_lr not in ("published", "paper") and _positive_float(self.sr_lr) is None:
            raise RecipeError(f"schedule {self.name}: sr_lr must be 'published', 'paper' or a "
                              f"positive number, got {self.sr_lr!r}")
        if self.sr_filler not in ("published", "xavier"):
            raise RecipeError(f"schedule {self.name}: sr_filler must be 'published' or "
                              f"'xavier', got {self.sr_filler!r}")
        if self.sr_solver not in SR_SOLVERS:
            raise RecipeError(f"schedule {self.name}: sr_solver must be one of "
                              f"{', '.join(map(repr, SR_SOLVERS))}, got {self.sr_solver!r}")
        if not isinstance(self.chunk, int) or self.chunk < 2:
            raise RecipeError(f"schedule {self.name}: chunk must be an integer >= 2, got "
                              f"{self.chunk!r}")

    def iterations(self, family, solver_max_iter):
        table = dict(self.iters)
        if family in table:
            return int(table[family])
        return max(1, int(round(solver_max_iter * self.iter_scale)))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["iters"] = dict(self.iters)
        return d


SCHEDULES = {
    "full": Schedule("full"),
    "quick": Schedule("quick", iter_scale=0.01, test=False, sr_lr="paper"),
    # the budget (reproduction.demo.COST): a CNN+D iteration of 8 faces is about 29 GFLOP
    # forward and backward, bound by arithmetic (about 450 ms on one AVX2 core); 150
    # iterations (two passes over the sample's 600 training faces) keep the whole demo within
    # its 10 minutes with one of two cores taken by other work. The SR-FCN's xavier weights need a smaller
    # lr than the published 1e-4 (made for gaussian(0.001) weights): at 1e-4 its loss rises
    # from 4.6 to 141 in three iterations and the ReLUs it kills are what Joint-OA copies
    # (docs/reproduction.md, "Why Joint-OA did not learn in the demo")
    "demo": Schedule("demo", iters=(("srfcn", 80), ("cnnd", 150), ("nonjoint", 150),
                                    ("joint", 150), ("lstm", 150), ("ccc", 40)),
                     batch=8, sr_batch=8, snapshot=50, test=False, sr_lr="1e-5",
                     sr_filler="xavier", chunk=16),
    # demo --budget long (reproduction.long_budget): the demo's recipe trained longer, three
    # seeds of every Table 1 model at s = 6 and 12. The SR-FCN learns with Caffe's Adam at the
    # published base_lr 1e-4: Adam's step is about lr per weight whatever the gradient's scale,
    # so xavier weights do not overshoot (SGD did at 1e-4), and it does not crawl as SGD at
    # 1e-5 does (measured at s = 6, 700 iterations: PSNR gain over bicubic -0.05 dB with SGD
    # at 1e-5, +0.46 dB with Adam at 1e-4; docs/reproduction.md)
    "long": Schedule("long", iters=(("srfcn", 700), ("cnnd", 350), ("nonjoint", 350),
                                    ("joint", 350), ("lstm", 150), ("ccc", 40)),
                     batch=8, sr_batch=8, snapshot=100, test=False, sr_lr="1e-4",
                     sr_filler="xavier", sr_solver="Adam", chunk=16),
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one model is trained (see the module doc). ``data``: ('hr',), ('lr', s),
    ('mix', (s1, s2, ...)) or ('sr', s)."""
    key: str
    method: str
    family: str
    factor: int | None
    data: tuple
    solver: str
    net: str
    deploy: str
    init_from: str | None
    init_layers: tuple
    lr_mult: float | None
    solver_max_iter: int
    max_iter: int
    batch_size: int | None
    base_lr: float | None
    weight_filler: str | None
    snapshot: int
    test: bool
    table_rows: tuple
    solver_type: str | None = None

    def params(self):
        """The JSON-able description that decides whether a finished training is still valid."""
        d = dataclasses.asdict(self)
        d["data"] = [self.data[0]] + [list(x) if isinstance(x, tuple) else x
                                      for x in self.data[1:]]
        d["init_layers"] = list(self.init_layers)
        d["table_rows"] = [list(r) for r in self.table_rows]
        for k in ("solver", "net", "deploy"):
            d[k] = d[k].rsplit("/", 1)[-1]
        if d["solver_type"] is None:
            del d["solver_type"]            # the solver file's own type: as runs recorded it
        return d

    def describe(self):
        init = (f"conv1-3 from {self.init_from} (lr_mult {self.lr_mult:g})" if self.init_from
                else "fillers" + (f" ({self.weight_filler} weights)" if self.weight_filler
                                  else ""))
        data = {"hr": lambda: "HR faces", "lr": lambda: f"faces degraded by {self.data[1]}",
                "mix": lambda: "faces degraded by s in {" + ", ".join(map(str, self.data[1]))
                + "}", "sr": lambda: f"SR patches at s={self.data[1]}"}[self.data[0]]()
        lr = f", base_lr {self.base_lr:g}" if self.base_lr is not None else ""
        if self.solver_type:
            lr += f", {self.solver_type} solver"
        return (f"{self.key}: {data}; {self.net.rsplit('/', 1)[-1]} + "
                f"{self.solver.rsplit('/', 1)[-1]}; {init}; {self.max_iter} iterations "
                f"(solver: {self.solver_max_iter}){lr}, batch {self.batch_size or 128}")


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One cell group of Table 1: model ``key`` tested on ``test`` (('hr',) or ('lr', s)),
    reported as row ``(s, method name)``."""
    key: str
    test: tuple
    row: tuple

    @property
    def name(self):
        return f"{self.key}@{'hr' if self.test[0] == 'hr' else 's' + str(self.test[1])}"


def method_name(method, factor):
    """The paper's name of a Table 1 row (``LR-3``, ``Joint-OA``...)."""
    return {"hr": "HR", "lr": f"LR-{factor}", "nonjoint": f"Non-Joint-{factor}",
            "joint": f"Joint-{factor}", "joint-oa": "Joint-OA"}[method]


def _solver_max_iter(path):
    from caffe_compat.io.prototxt import read_solver
    return int(read_solver(str(path)).max_iter)


def _solver_snapshot(path):
    from caffe_compat.io.prototxt import read_solver
    return int(read_solver(str(path)).snapshot)


def recipe(key, schedule=None, mix=DEFAULT_MIX):
    """The :class:`Recipe` of zoo model ``key`` ('hr', 'lr-3', 'joint-oa', 'srfcn-6', ...)
    under ``schedule`` (a :class:`Schedule` or the name of a predefined one). ``mix``: the
    factors Joint-OA mixes (the zoo's [3, 4, 6] by default; its SR-FCN is the one at the
    largest factor of the mix, as the zoo records for the default)."""
    schedule = _schedule(schedule)
    try:
        entry = lq_models.get(key)
    except lq_models.ZooError as e:
        raise RecipeError(str(e)) from None
    mix = tuple(sorted({int(s) for s in mix}))
    if entry.key.startswith("srfcn"):
        method = "srfcn"
    elif entry.key == "joint-oa":
        method = "joint-oa"
    else:
        method = entry.key.split("-")[0]
    family = _METHOD_FAMILY[method]
    kind = entry.data["kind"]
    if kind == "sr-patches":
        data = ("sr", int(entry.factor))
    elif kind == "hr":
        data = ("hr",)
    elif kind == "lr":
        data = ("lr", int(entry.factor))
    elif kind == "mix":
        data = ("mix", mix)
    else:                                       # pragma: no cover - zoo.json is tested
        raise RecipeError(f"{entry.key}: unknown data kind {kind!r} in the zoo")
    init_from = entry.init.get("source")
    if method == "joint-oa":
        # max-mix: the SR-FCN pre-trained with the largest factor of the mix
        init_from = f"srfcn-{max(mix)}"
        if mix == DEFAULT_MIX and init_from != entry.init.get("source"):
            raise RecipeError(f"zoo.json: joint-oa starts from {entry.init.get('source')} but "
                              f"the largest factor of its mix is {max(mix)}")
    solver_max = _solver_max_iter(entry.solver_path)
    max_iter = schedule.iterations(family, solver_max)
    snapshot = schedule.snapshot or _solver_snapshot(entry.solver_path) or max_iter
    snapshot = max(1, min(snapshot, max_iter))
    base_lr = None
    filler = None
    solver_type = None
    batch = schedule.batch
    if method == "srfcn":
        base_lr = {"paper": 0.01, "published": None}.get(schedule.sr_lr,
                                                          _positive_float(schedule.sr_lr))
        filler = "xavier" if schedule.sr_filler == "xavier" else None
        solver_type = None if schedule.sr_solver == "published" else schedule.sr_solver
        batch = schedule.sr_batch
    return Recipe(key=entry.key, method=method, family=family, factor=entry.factor,
                  data=data, solver=str(entry.solver_path), net=str(entry.train_val_path),
                  deploy=str(entry.deploy_path), init_from=init_from,
                  init_layers=tuple(entry.init.get("layers") or ()) if init_from else (),
                  lr_mult=entry.init.get("lr_mult") if init_from else None,
                  solver_max_iter=solver_max, max_iter=max_iter, batch_size=batch,
                  base_lr=base_lr, weight_filler=filler, snapshot=snapshot,
                  test=bool(schedule.test), table_rows=tuple(tuple(r) for r in entry.table1),
                  solver_type=solver_type)


def _schedule(schedule):
    if schedule is None:
        return SCHEDULES["full"]
    if isinstance(schedule, Schedule):
        return schedule
    try:
        return SCHEDULES[str(schedule)]
    except KeyError:
        raise RecipeError(f"unknown schedule {schedule!r} (known: {', '.join(SCHEDULES)})") \
            from None


def parse_methods(methods):
    """``'hr,lr,joint-oa'`` or a list -> tuple of methods in :data:`METHODS` order."""
    if isinstance(methods, str):
        methods = [m.strip().lower() for m in methods.split(",") if m.strip()]
    methods = [str(m).lower() for m in methods]
    known = METHODS + OPTIONAL_METHODS
    bad = [m for m in methods if m not in known]
    if bad or not methods:
        raise RecipeError(f"--methods: unknown method(s) {', '.join(bad) or '(none given)'}; "
                          f"expected a comma-separated subset of {','.join(known)}")
    return tuple(m for m in known if m in methods)


def parse_factors(factors, what="--factors"):
    """``'3,4,6'`` or a list -> sorted tuple of the paper's factors."""
    if isinstance(factors, str):
        parts = [p.strip() for p in factors.split(",") if p.strip()]
    else:
        parts = list(factors)
    out = []
    for p in parts:
        try:
            v = int(p)
        except (TypeError, ValueError):
            raise RecipeError(f"{what}: {p!r} is not an integer factor") from None
        if v not in PAPER_FACTORS:
            raise RecipeError(f"{what}: factor {v} is not one of the paper's "
                              f"{','.join(map(str, PAPER_FACTORS))}")
        out.append(v)
    if not out:
        raise RecipeError(f"{what}: expected at least one factor")
    return tuple(sorted(set(out)))


def plan(methods, factors, schedule=None, mix=DEFAULT_MIX):
    """The recipes to train for ``methods`` at ``factors``, SR-FCNs first, each model once,
    in an order where every model comes after the SR-FCN it starts from."""
    methods = parse_methods(methods)
    factors = parse_factors(factors)
    mix = parse_factors(mix, "--mix")
    keys = []
    if "hr" in methods:
        keys.append("hr")
    for s in factors:
        for m in ("lr", "nonjoint", "joint"):
            if m in methods:
                keys.append(f"{m}-{s}")
    if "joint-oa" in methods:
        keys.append("joint-oa")
    recipes = [recipe(k, schedule, mix) for k in keys]
    sr = sorted({r.init_from for r in recipes if r.init_from},
                key=lambda k: int(k.split("-")[1]))
    return [recipe(k, schedule, mix) for k in sr] + recipes


def evaluations(methods, factors):
    """The Table 1 cells to compute: HR on HR dev faces, every other model on dev faces
    degraded by s (Joint-OA, one model, at every s)."""
    methods = parse_methods(methods)
    factors = parse_factors(factors)
    out = []
    if "hr" in methods:
        out.append(Evaluation("hr", ("hr",), (None, "HR")))
    for s in factors:
        for m in ("lr", "nonjoint", "joint"):
            if m in methods:
                out.append(Evaluation(f"{m}-{s}", ("lr", s), (s, method_name(m, s))))
        if "joint-oa" in methods:
            out.append(Evaluation("joint-oa", ("lr", s), (s, "Joint-OA")))
    return out
