"""Read and write Caffe's text-format files: net definitions (.prototxt) and solvers.

Parsing follows Caffe's own reader: protobuf text format (``#`` comments, ``include: { phase:
TRAIN }``, enum names, single- or double-quoted strings), a non-repeated field given twice is an
error, and required fields must be present. Nets are then upgraded to the current format
(:mod:`caffe_compat.io.upgrade`), solvers get their ``solver_type`` and ``snapshot_prefix``
upgrades.

Every problem raises :class:`~caffe_compat.errors.PrototxtError` with ``file:line:column`` in
the message. Fields that neither Caffe 1.0 nor OpenCV's Caffe fork knows are errors; with
``allow_unknown_fields=True`` they are skipped with a :class:`PrototxtWarning` each, naming the
layer, since the layer is then built without a setting that may change its shapes or values."""
import os
import re
import warnings

from google.protobuf import text_format

from caffe_compat.diagnostics import locations
from caffe_compat.errors import CaffeCompatError, PrototxtError
from caffe_compat.io import fast_text as _fast_text
from caffe_compat.io import upgrade as _upgrade
from caffe_compat.io.atomic import write_text_atomic
from caffe_compat.io.text_file import _decode, read_text_file  # noqa: F401 (read_text_file: exported)
from caffe_compat.proto import caffe_pb2


class PrototxtWarning(UserWarning):
    """A text-format field that was skipped because Caffe 1.0's schema does not define it."""


_LOCATION = re.compile(r"^\d+(?::\d+)? : ")
_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "([^"]*)"')
_UNKNOWN_ENUM = re.compile(r'Enum type "([\w.]+)" has no value named ([^\s.]+)')
_SOLVER_ONLY = (set(caffe_pb2.SolverParameter.DESCRIPTOR.fields_by_name)
                - set(caffe_pb2.NetParameter.DESCRIPTOR.fields_by_name))
_TOP_TOKENS = re.compile(r'#[^\n]*|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|[{}<>:\[\],;]|[\w.+-]+')


def _short_type(full_name):
    return full_name.rsplit(".", 1)[-1]


def _clean_message(text):
    """Protobuf's parse error text without its location prefix and our package name."""
    text = _LOCATION.sub("", str(text), count=1)
    return text.replace('"caffe_compat.', '"')


def _recording_parser_class():
    """A text parser that remembers where it skipped unknown fields (None if unavailable)."""
    base = getattr(text_format, "_Parser", None)
    if base is None or not hasattr(base, "_SkipFieldContents"):
        return None

    class _RecordingParser(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.skipped = []
            self._depth = 0

        def _SkipFieldContents(self, tokenizer, field_name, immediate_message_type):
            if self._depth == 0:
                line = getattr(tokenizer, "_previous_line", -1) + 1
                column = getattr(tokenizer, "_previous_column", -1) + 1
                self.skipped.append((line, column, field_name, immediate_message_type))
            self._depth += 1
            try:
                return super()._SkipFieldContents(tokenizer, field_name, immediate_message_type)
            except text_format.ParseError as exc:
                if exc.GetLine() is not None:
                    raise
                # protobuf's skipping raises some errors without a place: the token's
                raise text_format.ParseError(
                    _clean_message(exc), getattr(tokenizer, "_line", -1) + 1,
                    getattr(tokenizer, "_column", -1) + 1) from None
            finally:
                self._depth -= 1

    return _RecordingParser


_RecordingParser = _recording_parser_class()


def parse_text_message(text, message, filename="<string>", allow_unknown_fields=False):
    """Parse text-format ``text`` into ``message`` (cleared first) and return it.

    Raises PrototxtError naming ``filename``, line and column. Unknown fields are an error, or
    with ``allow_unknown_fields`` skipped with one PrototxtWarning each."""
    if isinstance(text, bytes):
        text = _decode(text, filename)
    if text.startswith("\ufeff"):
        text = text[1:]
    message.Clear()
    try:
        quick = _fast_text.parse(text, message)     # the common forms, the same message
        if not quick and allow_unknown_fields and _RecordingParser is not None:
            parser = _RecordingParser(allow_unknown_field=True)
            parser.ParseLines(text.split("\n"), message)
            for line, column, name, owner in parser.skipped:
                from caffe_compat.io.text_layers import layer_of_line   # warnings only
                where = layer_of_line(message, text, line)
                where = f" of layer {where}" if where else ""
                warnings.warn(f"{filename}:{line}:{column}: skipped field \"{name}\" "
                              f"({_short_type(owner)}){where}: unknown to Caffe 1.0 and to "
                              "OpenCV's Caffe fork; the net is built without it, which may "
                              "change its shapes or values", PrototxtWarning,
                              stacklevel=_upgrade.caller_stacklevel())
        elif not quick:
            text_format.Parse(text, message, allow_unknown_field=allow_unknown_fields)
    except text_format.ParseError as exc:
        raise _parse_error(exc, filename) from None
    if not message.IsInitialized():
        paths = message.FindInitializationErrors()
        missing = ", ".join(_describe_missing(message, path) for path in paths)
        from caffe_compat.io.positions import path_position
        where = path_position(text, paths[0].rsplit(".", 1)[0]) if paths else None
        at = f"{filename}:{where[0]}:{where[1]}" if where else filename
        raise PrototxtError(f"{at}: required field(s) missing: {missing}")
    return message


def _parse_error(exc, filename):
    line, column = exc.GetLine(), exc.GetColumn()
    where = filename
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    unknown = _UNKNOWN_FIELD.search(str(exc))
    enum = _UNKNOWN_ENUM.search(str(exc))
    if unknown:
        owner, name = unknown.groups()
        hint = _field_hint(owner, name)
        what = (f'unknown field "{name}" in {_short_type(owner)}: '
                + (hint or "neither Caffe 1.0 nor OpenCV's Caffe fork has such a field (a typo, "
                   "or another fork's extension that this engine does not implement)"))
    else:
        what = _clean_message(exc)
        if enum:
            hint = _enum_hint(*enum.groups())
            if hint:
                what = f"{what.rstrip('.')}; {hint}"
    return PrototxtError(f"{where}: {what}")


def _descriptor(kind, full_name):
    pool = caffe_pb2.DESCRIPTOR.pool
    try:
        return (pool.FindMessageTypeByName if kind == "message" else
                pool.FindEnumTypeByName)(full_name)
    except KeyError:
        return None


def _field_hint(owner, name):
    """"did you mean ...?" for a misspelt field, or where a misplaced one belongs."""
    desc = _descriptor("message", owner)
    if desc is None:
        return ""
    if owner == caffe_pb2.NetParameter.DESCRIPTOR.full_name and name in _SOLVER_ONLY:
        return (f'"{name}" is a SolverParameter field: this looks like a solver file (give it '
                "with -solver; upgrade it with upgrade_solver_proto_text)")
    homes = [f.name for f in desc.fields if f.message_type is not None
             and f.message_type.fields_by_name.get(name) is not None]
    if homes:
        return f'"{name}" belongs inside ' + " or ".join(f"{h} {{ }}" for h in homes[:4])
    from caffe_compat.diagnostics.suggest import did_you_mean   # errors only
    return did_you_mean(name, desc.fields_by_name, quote='"')


def _enum_hint(enum_name, value):
    from caffe_compat.diagnostics.suggest import did_you_mean   # errors only
    desc = _descriptor("enum", enum_name)
    return "" if desc is None else did_you_mean(value, desc.values_by_name, quote="")


def _describe_missing(message, path):
    """'layer[3].clip_param.max' -> 'layer[3] ('clip1').clip_param.max' for readability."""
    match = re.match(r"layer\[(\d+)\]", path)
    if match and isinstance(message, caffe_pb2.NetParameter):
        index = int(match.group(1))
        if index < len(message.layer) and message.layer[index].name:
            return path.replace(match.group(0),
                                f"{match.group(0)} ('{message.layer[index].name}')", 1)
    return path


def top_level_fields(text):
    """The field names written at the outermost level of a text-format message, in order."""
    depth, out, prev = 0, [], None
    for tok in _TOP_TOKENS.findall(text):
        if tok[0] in "#\"'":
            prev = None
            continue
        if tok in "{<":
            depth += 1
        elif tok in "}>":
            depth -= 1
        elif depth == 0 and prev != ":" and re.fullmatch(r"[A-Za-z_]\w*", tok):
            out.append(tok)
        prev = tok
    return out


def is_solver_text(text):
    """True when ``text`` reads as a SolverParameter (a field only solvers have, such as
    ``net`` or ``base_lr``, at the outermost level) rather than a NetParameter."""
    names = set(top_level_fields(text))
    return bool(names & _SOLVER_ONLY) and not (names & {"layer", "layers", "input"})


# --------------------------------------------------------------------------------------------
# Nets

def parse_net(text, filename="<string>", *, allow_unknown_fields=False, upgrade=True):
    """A NetParameter from prototxt text, upgraded to the current format unless ``upgrade``
    is False. ``filename`` is used in error messages. The position of every layer is kept
    beside the message (:mod:`caffe_compat.diagnostics.locations`), so that the errors of building a net
    from it name ``filename:line:column``."""
    if isinstance(text, bytes):
        text = _decode(text, filename)
    net = parse_text_message(text, caffe_pb2.NetParameter(), filename, allow_unknown_fields)
    # positions are scanned for when first asked for, under the names the layers have now
    from caffe_compat.io.positions import layer_names, named_net_source
    names = layer_names(net)
    locations.attach_pending(
        net, filename, lambda: named_net_source(text.lstrip("\ufeff"), filename, names))
    if upgrade:
        net = upgrade_parsed_net(net, filename)
    return net


def upgrade_parsed_net(net, filename="<string>"):
    """What :func:`parse_net` returns for a message it parsed with ``upgrade=False``: the
    upgraded copy (``net`` is left as it is), its errors as PrototxtError."""
    try:
        return _upgrade.upgrade_net(net, filename)
    except CaffeCompatError as exc:
        raise PrototxtError(str(exc)) from None


def read_net(path, *, allow_unknown_fields=False, upgrade=True):
    """A NetParameter from a .prototxt file (upgraded, see :func:`parse_net`)."""
    path = os.fspath(path)
    return parse_net(read_text_file(path), path, allow_unknown_fields=allow_unknown_fields,
                     upgrade=upgrade)


# --------------------------------------------------------------------------------------------
# Solvers

def parse_solver(text, filename="<string>", *, allow_unknown_fields=False, upgrade=True):
    """A SolverParameter from text; the deprecated ``solver_type`` enum becomes ``type``."""
    solver = parse_text_message(text, caffe_pb2.SolverParameter(), filename,
                                allow_unknown_fields)
    if upgrade:
        try:
            solver = _upgrade.upgrade_solver(solver, filename)
        except CaffeCompatError as exc:
            raise PrototxtError(str(exc)) from None
    return solver


def read_solver(path, *, allow_unknown_fields=False, upgrade=True):
    """A SolverParameter from a solver .prototxt, upgraded as Caffe's solver reader does.

    Besides the ``solver_type`` upgrade, an unset ``snapshot_prefix`` becomes the solver path
    without extension, and a prefix naming an existing directory gets the solver file's stem
    appended (see :func:`caffe_compat.io.upgrade.upgrade_snapshot_prefix`)."""
    path = os.fspath(path)
    solver = parse_solver(read_text_file(path, "solver"), path,
                          allow_unknown_fields=allow_unknown_fields, upgrade=upgrade)
    if upgrade:
        solver = _upgrade.upgrade_snapshot_prefix(solver, path)
    return solver


# --------------------------------------------------------------------------------------------
# Writing

def to_text(msg):
    """Text format of any Caffe message (what Caffe's text writer produces, UTF-8 kept)."""
    return text_format.MessageToString(msg, as_utf8=True)


def write_prototxt(msg, path):
    """Write ``msg`` in text format to ``path`` atomically."""
    write_text_atomic(path, to_text(msg))
