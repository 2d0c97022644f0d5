"""A module that stands for ``cv2`` and notes every use of it (tests/opencv_usage.py). Apart
from that plugin so that the tests' subprocesses can load it without pytest."""
import sys
import types

# what the import system reads of a module imported already, and what pytest's collection and
# ``inspect`` read of every object a test module holds, or of every module (``getmodule``):
# not a use of OpenCV
_INTROSPECTION = frozenset(("__spec__", "__loader__", "__path__", "__name__", "__package__",
                            "__file__", "__class__", "__dict__", "__bases__", "__wrapped__",
                            "__test__", "_mock_name"))


class ForwardingModule(types.ModuleType):
    """Stands for ``real`` in ``sys.modules``: every attribute read, written or deleted goes
    to ``real``; each read, apart from introspection's, first calls ``note()``."""

    def __init__(self, real, note):
        super().__init__(real.__name__, real.__doc__)
        object.__setattr__(self, "_rlq_real", real)
        object.__setattr__(self, "_rlq_note", note)

    def __getattribute__(self, name):
        if name in ("_rlq_real", "_rlq_note"):
            return object.__getattribute__(self, name)
        if name not in _INTROSPECTION:
            object.__getattribute__(self, "_rlq_note")()
        return getattr(object.__getattribute__(self, "_rlq_real"), name)

    def __setattr__(self, name, value):
        setattr(object.__getattribute__(self, "_rlq_real"), name, value)

    def __delattr__(self, name):
        delattr(object.__getattribute__(self, "_rlq_real"), name)

    def __dir__(self):
        return dir(object.__getattribute__(self, "_rlq_real"))


class _WrapOnImport:
    """A ``sys.meta_path`` finder: the first import of ``cv2`` loads the real module, then
    puts a :class:`ForwardingModule` over it (Python's import returns what ``sys.modules``
    holds after the loader ran)."""

    def __init__(self, note):
        self.note = note

    def find_spec(self, name, path=None, target=None):
        if name != "cv2":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                spec.loader = _WrappingLoader(spec.loader, self.note)
                return spec
        return None


class _WrappingLoader:
    def __init__(self, loader, note):
        self.loader = loader
        self.note = note

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        real = sys.modules.get("cv2", module)
        if not isinstance(real, ForwardingModule):
            sys.modules["cv2"] = ForwardingModule(real, self.note)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def install(note):
    """Put a :class:`ForwardingModule` over ``cv2`` in ``sys.modules``: now if it is imported
    already, else when it first is (nothing is imported here). The last caller's ``note`` is
    the one called (a pytest-xdist worker inherits the subprocesses' ``sitecustomize`` and then
    installs its own)."""
    real = sys.modules.get("cv2")
    if real is not None:
        if isinstance(real, ForwardingModule):
            object.__setattr__(real, "_rlq_note", note)
        else:
            sys.modules["cv2"] = ForwardingModule(real, note)
        return
    hooks = [f for f in sys.meta_path if isinstance(f, _WrapOnImport)]
    for hook in hooks:
        hook.note = note
    if not hooks:
        sys.meta_path.insert(0, _WrapOnImport(note))
