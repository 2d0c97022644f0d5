"""The torch-free inference path of :mod:`caffe_compat.dnn`: a Caffe net read into numpy,
written as an ONNX model (:mod:`.graph`, one converter module per layer type in
:mod:`.converters`) and run on onnxruntime (or OpenCV 5's ONNX reader, :mod:`.runtime`) at
float32, with the layers ONNX does not express as Caffe computes them (DetectionOutput) run
in numpy after it. A program that reads a net, runs a forward and exits never imports torch.

Which path a ``caffe_compat.dnn`` net takes (:func:`enabled`):

* ``auto`` (the default) and ``on``: the torch-free path when every layer the forward needs
  has a converter, whether or not the process imported torch (the same runtime trial,
  :mod:`.choice`, either way; docs/engines.md); anything the converters do not reproduce (a
  layer type or setting without a converter, a layer without weights in the caffemodel, a
  Python layer, ``setParam``, a backend or target other than the default) takes the torch
  path, silently (one debug log line);
* ``off``: always the torch path.

The switch: :data:`MODE` (``"auto"``, ``"on"``, ``"off"``; None: the environment),
otherwise ``CAFFE_COMPAT_TORCH_FREE`` (``auto``, ``1`` / ``on``, ``0`` / ``off``).

Trust: in a process that imported torch, the runtime trial checks each runtime's first
outputs against our forward (:meth:`TorchFreeNet._trusted`); without torch the path is not checked
at run time: the tests check every converter, at edge shapes, and the sample nets against
``caffe_compat.Net``'s forward (docs/engines.md, "The torch-free path").

A plan's trial winner is kept in the one disk cache of both paths (:mod:`.cache_store`,
:func:`_stored_winner`): a later process meeting the same model settles on it, no trial."""
from __future__ import annotations

import collections
import os

from .choice import debug
from .unsupported import Unsupported

ENV = "CAFFE_COMPAT_TORCH_FREE"
MODE = None            # "auto" | "on" | "off"; None: $CAFFE_COMPAT_TORCH_FREE (default auto)
_VALUES = {"": "auto", "auto": "auto", "1": "on", "on": "on", "true": "on", "yes": "on",
           "0": "off", "off": "off", "false": "off", "no": "off"}
_KEEP = 2              # plans (input shapes, outputs) kept per net
# sessions of models with free lengths kept per net (one per function: a fully convolutional
# net's poolings with ceil_mode write other pads for odd and even lengths, so an image pyramid
# makes a dozen), at most as many as hold _FREE_BYTES of weights (OpenCV's reader copies them)
_KEEP_FREE, _FREE_BYTES = 32, 256 << 20
# plans (input shapes, outputs) kept that run on those sessions: their graphs view the weights
# (no copy), so a pyramid's shapes are written once each
_ON_FREE = 256
# a net of at least this many bytes of weights (and of early.EARLY_MIN_BYTES) is written in
# two parts where the runtime reads a model without the GIL (TorchFreeNet.check), the first read
# while the second is written (figures: docs/engines.md)
STAGE_MIN_BYTES = 1 << 20


def mode():
    """The switch's value: ``"auto"``, ``"on"`` or ``"off"``."""
    value = MODE if MODE is not None else os.environ.get(ENV, "auto")
    got = _VALUES.get(str(value).strip().lower())
    if got is None:
        raise ValueError(f"{ENV}={value!r} (or caffe_compat.onnx_path.MODE): expected auto, on "
                         "(1) or off (0)")
    return got


def enabled():
    """Whether a net read now tries the torch-free path."""
    return mode() != "off"


def supported_types():
    from .converters import registered_types
    return registered_types()


class TorchFreeNet:
    """A net's torch-free forwards: ``layers`` (LayerParameters: unique names and blob
    names, no Input layer), its inputs' names, and ``weights()`` giving ``{layer name:
    [float32 arrays]}`` when first needed. :meth:`run` raises
    :class:`~caffe_compat.onnx_path.converters.Unsupported` for what it does not reproduce."""

    def __init__(self, layers, inputs, weights, name="net", source=None):
        self.layers, self.inputs, self._weights_fn = list(layers), list(inputs), weights
        self.name = name
        self.source = source        # the caffemodel file the weights view (graph.FileSource)
        self._weights = None
        self._bytes = None            # the weights' bytes (_weight_bytes)
        self._plans = collections.OrderedDict()
        self._free = collections.OrderedDict()     # plan signature -> (runtime, session)
        self._on_free = collections.OrderedDict()  # plans run by a session of _free
        self.runtime = None           # the runtime of the last forward
        self.last = None              # its (input shapes and outputs, (plan, session))
        self.forwards = 0             # forwards run
        # (shapes, outputs, runtime chosen, plan, [a started session per part], the runtime
        # those sessions are of) written at read time
        self._checked = None
        # _template_key (the inputs' ranks and channels, the outputs, what the layers read of
        # the lengths) -> (runtime chosen, a plan, the runtime that runs it) of a net whose
        # layers write no lengths (the plan :meth:`check` wrote, or a first forward's): every
        # later shape of the same key runs it on the plan's session with free lengths
        # (:meth:`_free_session`) without a graph written for it
        self._templates = {}
        self._free_of_lengths = {}    # outputs -> [each layer's KeptClaim], () if one has none
        from .runtime import ThreadWatch
        self._watch = ThreadWatch()     # the thread counts of the sessions made
        # our forward, ``reference(shapes, blobs, feed) -> arrays``, where the process imported
        # torch: the runtime trial checks each runtime against it (:meth:`_trusted`)
        self.reference = None

    @staticmethod
    def unsupported_types(layers):
        """The layer types of ``layers`` without a converter."""
        from .converters import converter, host_converter
        return sorted({lp.type for lp in layers
                       if converter(lp.type) is None and host_converter(lp.type) is None})

    def _plan(self, shapes, wanted):
        key = (shapes, wanted)
        got = self._plans.get(key)
        if got is not None:
            self._plans.move_to_end(key)
            return got
        got = self._on_free.get(key)
        if got is not None:
            self._on_free.move_to_end(key)
            return got
        from . import graph, runtime
        name = runtime.choose(self._weight_bytes())
        checked, self._checked = self._checked, None
        early = session = None
        if checked is not None and checked[0] == shapes and set(wanted) <= set(checked[1]) \
                and checked[2] == name:
            # the graph written when the net was read, and the runtime of its sessions
            plan, early, engine = checked[3], checked[4], checked[5]
        else:
            template_key = self._template_key(shapes, wanted)
            template = self._templates.get(template_key) if template_key is not None else None
            if template is not None and template[0] == name:
                _, plan, engine = template
                session = self._free_session(plan, runtime, engine)
                if session is not None:
                    return self._keep_on_free(key, plan, session, engine)
                del self._templates[template_key]      # the runtime refused free lengths
            plan = self._build(graph, runtime, name, shapes, wanted)
        _runs_on(plan, name)
        if early is None:
            # a shape other than the one the net was read for: the session with free lengths,
            # which every later shape of the same function shares
            engine = runtime.engine_for(name, plan, template_key is not None)
            session = self._free_session(plan, runtime, engine)
            if session is not None:         # kept apart: a plan without a session of its own
                if template_key is not None:
                    self._templates[template_key] = (name, plan, engine)
                return self._keep_on_free(key, plan, session, engine)
        name = engine
        if plan.parts:
            self._watch.made(name)
            try:
                sessions = []
                for k, part in enumerate(plan.parts):
                    started = early[k] if early is not None else None
                    got = started.result() if started is not None else None
                    if got is None:
                        got = runtime.session(name, _model_of(part), part.input_names,
                                              part.output_names, plan.external, part.linked)
                    sessions.append(got)
            except Exception as exc:           # the runtime refused the model: torch path
                raise Unsupported(f"{name} did not load the model: {exc}") from exc
            session = graph.in_turn(plan.parts, sessions, list(plan.graph_outputs.values()))
            session = self._chosen(plan, session, name, key)
        got = (plan, session)
        self._plans[key] = got
        while len(self._plans) > _KEEP:
            self._plans.popitem(last=False)
        return got

    def _keep_on_free(self, key, plan, session, name):
        got = self._on_free[key] = (plan, self._chosen(plan, session, name, key))
        while len(self._on_free) > _ON_FREE:
            self._on_free.popitem(last=False)
        return got

    def _template_key(self, shapes, wanted):
        """The key of the template plans for inputs of ``shapes`` and outputs ``wanted``: the
        inputs' ranks and channels and what each layer's graph reads of the lengths (its
        ``lengths_free`` claim, :func:`.converters.register`; the layers' rules applied to
        the shapes on the way, their refusals raised), or None where a layer those outputs
        need writes lengths. Each layer's claim keeps the record of its rule
        (:class:`.converters.KeptClaim`): a new shape of the same ranks and channels costs
        the rules' arithmetic and refusals of that shape, not their parameters read again."""
        claims = self._free_of_lengths.get(wanted)
        if claims is None:
            from .converters import kept_claim
            from .graph import needed
            claims = [kept_claim(self.layers[k]) for k in needed(self.layers, wanted)]
            claims = self._free_of_lengths[wanted] = claims if all(claims) else ()
        if not claims:
            return None
        blobs, facts = dict(zip(self.inputs, shapes)), []
        for claim in claims:
            got = claim([blobs[b] for b in claim.bottom])
            if got is None:
                return None
            tops, fact = got
            blobs.update(zip(claim.top, (tuple(t) for t in tops)))
            facts.append(fact)
        return tuple((len(s), s[1:2]) for s in shapes), wanted, tuple(facts)

    def _chosen(self, plan, session, name, key):
        """``session`` (of runtime ``name``) as a :class:`.choice.Chosen`: the plan's forwards
        go to the fastest installed runtime once it has shown it keeps running. When the trial
        is to start, a winner stored in the cache for the same model settles it
        (:func:`_stored_winner`); otherwise the trial's winner is stored there."""
        from . import choice
        if not choice.enabled() or not plan.graph_outputs:
            return session
        blobs = list(plan.graph_outputs)
        trust = None if self.reference is None else \
            (lambda runtime, got, feed: self._trusted(runtime, key[0], blobs, got, feed))
        again, stored = [], []          # the plan written again for the trial; its entry

        def others():
            names = [c for c in choice.candidates(name) if c not in plan.avoids]
            again.append(self.written_again(key))
            stored[:] = _stored_winner(self, again[0].whole.model, *key)
            won = stored[0].decisions().get(stored[1], {})
            best, label = won.get("runtime"), won.get("label", "")
            if best in names + [name]:
                try:
                    chosen.settle(best, again=not label.endswith("(first)"))
                except Exception as exc:                # noqa: BLE001 - the trial runs
                    debug("%s: the stored winner %s did not load (%s)", self.name, best, exc)
                again.clear()
            return names

        def decided(runtime, times):
            again.clear()
            if stored:                      # the label: the first session or one made anew
                stored[0].record(stored[1], {"runtime": runtime, "label": chosen.label,
                                             "seconds": times})
        chosen = choice.Chosen(session, name, others,
                               lambda other: self._trial_session(plan, other, key, again),
                               self._weight_bytes() / 1e6, decided=decided, trust=trust)
        return chosen

    def _trusted(self, runtime, shapes, blobs, got, feed):
        """Whether runtime ``runtime``'s outputs ``got`` (of ``blobs``) on ``feed`` agree with
        our forward's within the engines' trust bound (:mod:`.trust`: detection rows as sets);
        a warning names the runtime and the output where they do not."""
        from . import trust
        try:
            ours = self.reference(shapes, blobs, feed)
        except Exception as exc:            # noqa: BLE001 - our forward's own error: unchecked
            debug("%s: our forward did not run for the trust check (%s)", self.name, exc)
            return True
        sets = {t for lp in self.layers if lp.type in trust.SET_OUTPUTS for t in lp.top}
        verdict = trust.verdict(blobs, got, ours, sets)
        if not verdict["ok"]:
            trust.distrust(runtime, self.name, verdict["why"], stacklevel=2)
        return verdict["ok"]

    def plans(self):
        """``[(key, plan, session)]`` of the plans kept (``key``: the input shapes and the
        outputs asked for), those with a session of their own first, then those on a session
        with free lengths, each group the oldest first."""
        return [(key, plan, session) for plans in (self._plans, self._on_free)
                for key, (plan, session) in plans.items()]

    def written_again(self, key):
        """The :class:`.graph.Plan` of ``key`` written again with every weight in the model
        and the shapes fixed (what a runtime trial's sessions load)."""
        from . import graph
        shapes, wanted = key
        return graph.build(self.layers, list(zip(self.inputs, shapes)), self._weights,
                           list(wanted), self.name)

    def _trial_session(self, plan, name, key, written=()):
        """Runtime ``name``'s session of ``plan`` for the trial (:meth:`written_again`, or
        the plan of ``written`` already written again)."""
        from . import runtime
        self._watch.made(name)
        again = written[0] if written else self.written_again(key)
        if list(again.graph_outputs.items()) != list(plan.graph_outputs.items()):
            raise RuntimeError("the graph written again has other outputs")
        whole = again.whole
        return runtime.tuned_session(name, _model_of(whole), whole.input_names,
                                     whole.output_names)

    def _free_session(self, plan, runtime, name):
        """For inputs of a shape other than the one the net was read for: the session of the
        plans whose nodes and values equal ``plan``'s (:meth:`graph.Plan.signature`), its
        model's lengths free (:meth:`graph.Part.free_model`), loaded for the first of them;
        None where the plan has no signature (numpy steps, constants) or the runtime refuses
        free lengths. A program that feeds many shapes (an image pyramid, crop batches) then
        loads the model into its runtime once per function instead of once per shape."""
        signature = plan.signature()
        if signature is None:
            return None
        # (the free model writes the inputs' channels: Part.free_model)
        signature = (signature, tuple(s[1:2] for _, s in plan.whole.inputs))
        got = self._free.get(signature)
        if got is not None and got[0] == name:
            self._free.move_to_end(signature)
            return got[1]
        whole = plan.whole
        self._watch.made(name)
        try:
            session = runtime.session(name, whole.free_model(), whole.input_names,
                                      whole.output_names, plan.external)
        except Exception as exc:           # the runtime refused free lengths: one per shape
            debug("%s: %s did not load the model with free lengths (%s)", self.name, name, exc)
            return None
        self._free[signature] = (name, session)
        keep = max(2, min(_KEEP_FREE, _FREE_BYTES // max(1, self._weight_bytes())))
        while len(self._free) > keep:
            self._free.popitem(last=False)
        return session

    def forget_sessions(self):
        """Drop the plans and their sessions (built on the thread count of their time): the
        next forward writes and loads them again, on the count of the policy now."""
        self._plans.clear()
        self._free.clear()
        self._on_free.clear()
        self._templates.clear()
        self._checked = None

    def check(self, shapes, wanted):
        """Write the graph for ``shapes`` and outputs ``wanted``: raises Unsupported at read
        time for what the converters do not reproduce (the torch path then reports a bad
        definition when the net is read). The runtime's session starts building on a thread of its
        own (:mod:`.early`: a net of at least :data:`.early.EARLY_MIN_BYTES` of weights, where
        :func:`.early.core_free`); the first forward of these shapes takes it. Where the runtime
        reads a model without the GIL (OpenCV 5's reader), a net of :data:`STAGE_MIN_BYTES` of
        weights or more (and of ``EARLY_MIN_BYTES``) is written in two parts (:func:`.graph.build`'s
        ``stage``): the first is read while the second is written."""
        from . import graph, runtime
        from .early import EARLY_MIN_BYTES, core_free
        size = self._weight_bytes()
        name = runtime.choose(size)
        started = {}
        # (a core free for it: .early.core_free)
        ahead = size >= EARLY_MIN_BYTES and core_free()

        def stage(part):
            started[id(part)] = runtime.start(name, _model_of(part), part.input_names,
                                              part.output_names, None, part.linked)
        staged = stage if ahead and runtime.reads_apart(name) and size >= STAGE_MIN_BYTES \
            else None
        self._watch.made(name)
        plan = self._build(graph, runtime, name, shapes, wanted, staged)
        _runs_on(plan, name)
        # (a staged plan's first part was started on the runtime chosen before it was whole)
        template_key = self._template_key(tuple(shapes), tuple(sorted(set(wanted))))
        engine = name if started else runtime.engine_for(name, plan, template_key is not None)
        if template_key is not None and not started:
            # the template of its key: a first forward of another shape of the same key runs
            # this plan on a session with free lengths (made then) without writing a graph
            self._templates[template_key] = (name, plan, engine)
        early = []
        for part in plan.parts:
            got = started.get(id(part))
            if got is None and ahead:
                got = runtime.start(engine, _model_of(part), part.input_names,
                                    part.output_names, plan.external, part.linked)
            early.append(got)         # None: the first forward of these shapes makes it
        self._checked = (tuple(shapes), tuple(wanted), name, plan, early, engine)

    def _build(self, graph, runtime, name, shapes, wanted, stage=None):
        takes = runtime.takes_external(name)
        return graph.build(self.layers, list(zip(self.inputs, shapes)), self._weights,
                           list(wanted), self.name, external=takes,
                           source=None if takes else self.source, stage=stage)

    def _weight_bytes(self):
        """The weights' bytes, the weights read first where they are not yet (counted once:
        they do not change)."""
        if self._weights is None:
            self._weights = self._weights_fn()
        if self._bytes is None:
            self._bytes = sum(a.nbytes for arrays in self._weights.values() for a in arrays)
        return self._bytes

    def run(self, shapes, wanted, fed):
        """The arrays of blobs ``wanted`` for inputs ``fed`` ({name: float32 array}) of
        ``shapes``."""
        # (no import here: a forward's Python time runs on caches its runtime has just used)
        for n in self.inputs:
            if n not in fed:
                raise Unsupported(f"input(s) {[n for n in self.inputs if n not in fed]} not "
                                  "set (the torch path feeds them as Caffe)")
        if self._watch.grew():
            debug("%s: the thread policy gives more threads than its sessions were made "
                  "with; they are made again", self.name)
            self.forget_sessions()
        key = (tuple(shapes), tuple(wanted))
        entry = self._plan(*key)
        self.last = (key, entry)
        plan, session = entry
        self.runtime = getattr(session, "runtime", None)
        return plan.run(session, fed, wanted)

    def run_again(self, key, entry, fed):
        """:meth:`run` for a forward that takes the way of an earlier one: ``key`` (the input
        shapes and outputs) and ``entry`` (its plan and session) as :attr:`last` gave them,
        ``fed`` checked by the caller to hold inputs of those shapes. The outputs, or None
        where that way is gone: the plan forgotten or dropped, or the thread policy giving
        more threads than the sessions were made with (:meth:`run` then makes them again)."""
        if (self._plans.get(key) or self._on_free.get(key)) is not entry or \
                self._watch.would_grow():
            return None
        plan, session = entry
        self.runtime = getattr(session, "runtime", None)
        return plan.run(session, fed, key[1])


def _stored_winner(net, model, shapes, wanted):
    """(the cache entry of a plan's trial, :func:`.cache_store.entry`; the name of its winner
    there): the entry is keyed by the sha256 of caffe_compat's version, ``model`` (the plan
    as the trial's sessions load it, weights included), the input ``shapes`` and the outputs
    ``wanted``; the winner by the installed runtimes' versions and the thread count."""
    import hashlib

    import caffe_compat

    from . import cache_store, choice, runtime
    h = hashlib.sha256(f"torch-free plan/{caffe_compat.__version__}\0".encode())
    for piece in ([model] if isinstance(model, bytes) else model):
        h.update(piece)
    h.update(repr((tuple(shapes), tuple(wanted))).encode())
    about = {"net": net.name, "outputs": list(wanted),
             "inputs": {n: list(s) for n, s in zip(net.inputs, shapes)}}
    return (cache_store.entry(h.hexdigest(), about),
            choice.winner_key(runtime.available(), runtime._threads()))


def _runs_on(plan, name):
    """Unsupported where ``plan`` is not to run on runtime ``name`` (:meth:`.graph.Graph.avoid`;
    the runtime was asked for by name, or is the only one installed): the torch path runs the
    net."""
    why = plan.avoids.get(name)
    if why is not None:
        raise Unsupported(f"not on {name}: {why}")


def _model_of(part):
    """The whole encoding of ``part``, written only where the runtime asks for it."""
    return lambda: part.model


def weights_by_layer(weights, values):
    """``{layer name: [float32 arrays]}`` of a caffemodel read by
    :func:`caffe_compat.io.caffemodel.read_caffemodel_values` (``values`` None: the blobs hold
    their values); a name given twice takes the later layer's, as Caffe's
    CopyTrainedLayersFrom copies each in turn."""
    import numpy as np

    from ..io.caffemodel import blob_to_array
    out = {}
    if weights is None:
        return out
    for k, layer in enumerate(weights.layer):
        if not len(layer.blobs):
            continue
        arrays = []
        for j, blob in enumerate(layer.blobs):
            v = values[k][j] if values is not None else None
            a = blob_to_array(blob, f"layer '{layer.name}' blob {j}", values=v)
            arrays.append(np.asarray(a, dtype=np.float32))
        out[layer.name] = arrays
    return out
