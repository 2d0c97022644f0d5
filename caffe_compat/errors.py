"""The exception types of caffe_compat.

Every reader and builder reports bad input with one of these, and the message names the place:
a file (with line and column for text), a layer, a blob index. ``CaffeCompatError`` is the one
type callers need to catch; the subclasses say which stage refused the input.
"""


class CaffeCompatError(Exception):
    """Base class: bad input or an unsupported request, with the place named in the message."""


class PrototxtError(CaffeCompatError):
    """A text-format net or solver that does not parse (file, line, column in the message)."""


class WeightsError(CaffeCompatError):
    """A caffemodel or solverstate that cannot be read, or blobs that do not fit the net."""


class UnopenedPrototxtError(PrototxtError, RuntimeError):
    """A text file that cannot be opened: a RuntimeError too, as pycaffe's CheckFile raises."""


class UnopenedWeightsError(WeightsError, RuntimeError):
    """A binary file that cannot be opened: a RuntimeError too, as pycaffe's CheckFile raises."""


class NetError(CaffeCompatError):
    """A net definition that cannot be built: unknown layer type, missing bottom, bad shape."""


class DataError(CaffeCompatError):
    """Training or evaluation data that cannot be used (missing file, dataset, wrong shape)."""


class SolverError(CaffeCompatError):
    """A solver definition or state that cannot be used."""


class WeightsMismatchWarning(UserWarning, WeightsError):
    """Weights that leave layers of the net uncovered: layers with parameters that the weights
    file does not hold keep their filler values (Caffe's CopyTrainedLayersFrom copies by layer
    name and says nothing). A warning by default, since fine-tuning a renamed layer relies on
    it; ``warnings.simplefilter("error", WeightsMismatchWarning)`` raises it instead, and then
    ``except WeightsError`` (or ``CaffeCompatError``) catches it like any refused file."""
