"""Where each Caffe layer type's rules live: for every layer type, (a) the files of a checkout
that hold part of its rules and (b) the places that parse its parameters, found in the source
with Python's ``ast`` (nothing of the checkout is imported or run; about 2 s a tree).

    python benchmarks/rule_places.py [--tree DIR] [--before DIR] [--top 25] [--type T ...]
        [--more]

``--tree DIR``: the checkout to count (default: this one). ``--before DIR``: another checkout
(``git worktree add DIR COMMIT``), counted the same way, its counts beside the tree's.
``--top N``: the N types of the tree with the most files (a), ties by name (0: every type).
``--type T``: these types only. ``--more``: then a line for each type of the tree parsed in
more than one place, with its files. The table is markdown.

**Files**: every ``*.py`` and ``*.c`` under ``caffe_compat/`` and ``caffe/`` (``__pycache__``
skipped), less the two modules that are ``caffe.proto`` itself
(``caffe_compat/proto/caffe_pb2.py``, ``caffe_compat/proto/schema.py``: every message and
default, no rule of the project's own).

**Types**: every string that a decorator call, or a call whose result is called, takes as an
argument (``@register_layer("ReLU")``, ``@emitter("Split")``, ``register("Sigmoid")(fn)``) and
that reads as a type name (a capital, then letters and digits); with ``--before``, those of
both trees.

**A type's messages**: the fields ``<name>_param`` of ``LayerParameter`` (from the counted
tree's ``proto/schema.py``) whose name, underscores dropped, is the type's name in lower case
(InnerProduct: ``inner_product_param``; ArgMax: ``argmax_param``), and those :data:`SHARED`
adds where Caffe's layer reads a message named otherwise (Deconvolution:
``convolution_param``; SoftmaxWithLoss: ``softmax_param`` and ``loss_param``). A **message
expression** is ``<x>.<message>`` (not a store), ``getattr(<x>, "<message>")``, a
message-typed field of one (``p.nms_param``), an item of one, or a name or ``self.``
attribute bound from one: by an assignment in its scope or an enclosing one (a ``self.``
attribute: in its class), or, as a parameter of a function of the tree, by any call in the
tree that hands that function a message expression (by position or keyword; a class's
``__init__``; the function found among the file's own, its ``self.`` methods and, through
the file's imports, the tree's other modules).

A file **implements** T where:

* ``"T"`` is an argument of a decorator call or of a call whose result is called (above);
* ``"T"`` is an argument of a call that is a statement of the module's body, run on import
  (``registry.add("fast", "T", fn)``, a field declaration ``declare("lite", "T", ...)``);
* ``"T"`` is a key of a dict display whose value is a function (a name, an attribute, a lambda,
  a call) or the name of a module beside the file (a lazy registry: ``"Pooling": "pooling"``),
  one of the literal strings a dict comprehension with a function value runs over, or the
  first item of a literal pair ``("T", fn)``;
* a ``.c`` file names Caffe's class ``TLayer`` (a whole word: ``PoolingLayer``).

A file **refers to** T's messages where it has an attribute ``.<message>``
(``.convolution_param``), the message type's name as a name or an attribute
(``ConvolutionParameter``), or a string (not a docstring) that is exactly the message's name,
its type's name or a dotted path from the message (``"convolution_param.kernel_size"``) and is
not one item of a literal list, tuple, set or dict naming three or more messages (the
upgrade's list of every message, the wire's table of field numbers).

A file **reads** T's parameters where it loads an attribute of a message expression
(``.kernel_size``, ``.HasField``) or calls ``getattr`` on one. A write is not a read: a store,
a delete, or a call of ``append``, ``extend``, ``add``, ``CopyFrom``, ``MergeFrom``, ``Clear``,
``ClearField`` or ``SetInParent`` on the message or on a field of it (pycaffe's net_spec).

A reference to or a read of a message that several types read (``convolution_param``)
counts for those of them the file implements, or, where it implements none of them (a rule
module, a helper, a drawing), for every one of them.

**(a) files**: the files that implement T or refer to its messages or read them: the count of
the issue "one Caffe layer type, one place" (parameters and defaults, output shape, forward and
backward). **(b) parsing places**: the files that read T's parameters (parsing, defaults,
shape rules, refusals), each file outside ``caffe_compat/rules/`` one place and the rules
package one more where any of its modules reads them (T's rule module, with the shared helpers
there that it hands the message to: ``rules/spatial.py``). The goal is (b) = 1, the rule
module. The table's ``which (b)`` lists the files, those of the rules package first, without
``caffe_compat/``.

Not seen: a message read through a dict keyed by its name (pycaffe's ``coord_map`` reads
``fn.params``: a reference in (a) only), a helper handed one field's value rather than the
message (``spatial_values(cp.kernel_size, ...)``), and code that computes a type's forward or
backward without naming the type or its messages (an NMS, an im2col or a convolution kernel
called by the type's layer).
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOTS = ("caffe_compat", "caffe")
GENERATED = {"caffe_compat/proto/caffe_pb2.py", "caffe_compat/proto/schema.py"}
SCHEMA = "caffe_compat/proto/schema.py"
RULES = "caffe_compat/rules/"
TYPE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")

# Caffe's layers that read a message named otherwise (caffe/src/caffe/layers/*.cpp and the
# forks' layers this project runs)
SHARED = {
    "Deconvolution": ("convolution_param",),
    "Im2col": ("convolution_param",),
    "ConvolutionDepthwise": ("convolution_param",),
    "SoftmaxWithLoss": ("softmax_param", "loss_param"),
    "SigmoidCrossEntropyLoss": ("loss_param",),
    "InfogainLoss": ("loss_param",),
    "Normalize": ("norm_param",),
    "NormalizeBBox": ("norm_param",),
    "PriorBoxClustered": ("prior_box_param",),
    "Data": ("transform_param",),
    "ImageData": ("transform_param",),
    "WindowData": ("transform_param",),
    "MemoryData": ("transform_param",),
    "RNN": ("recurrent_param",),
    "LSTM": ("recurrent_param",),
}
# calls on a message (or on one of its fields) that write it
WRITES = {"append", "extend", "add", "CopyFrom", "MergeFrom", "Clear", "ClearField",
          "SetInParent"}
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Module)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


# -- the tree -----------------------------------------------------------------------------------
def source_files(tree):
    """The counted files of ``tree``, as paths relative to it (sorted)."""
    found = []
    for root in ROOTS:
        for folder, dirs, files in os.walk(os.path.join(tree, root)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in files:
                if name.endswith((".py", ".c")):
                    rel = os.path.relpath(os.path.join(folder, name), tree).replace(os.sep, "/")
                    if rel not in GENERATED:
                        found.append(rel)
    return sorted(found)


class Schema:
    """caffe.proto's messages as the tree has them: the table its ``proto/schema.py`` holds
    (trees before 2026-11-29), else its ``caffe.proto`` read by this checkout's schema reader
    (this checkout's where the tree has neither): ``params`` maps each message field of
    LayerParameter to its message type."""

    def __init__(self, tree):
        path = os.path.join(tree, SCHEMA)
        if not os.path.exists(path):
            path = os.path.join(HERE, SCHEMA)
        module = ast.parse(open(path, encoding="utf-8").read())
        self.messages = next((ast.literal_eval(node.value) for node in module.body
                              if isinstance(node, ast.Assign)
                              and getattr(node.targets[0], "id", "") == "MESSAGES"), None)
        if self.messages is None:
            sys.path.insert(0, HERE)
            from caffe_compat.proto import schema
            proto = os.path.join(os.path.dirname(path), "caffe.proto")
            self.messages = schema.read_proto(proto)[0]
        self.params = {f[0]: f[6] for f in self.messages["LayerParameter"]
                       if f[0].endswith("_param") and f[2] == "message"}
        self.by_type_name = {message: field for field, message in self.params.items()}
        self._nested = {}

    def nested(self, field):
        """The names of the message-typed fields anywhere under ``field``'s message."""
        if field not in self._nested:
            names, seen, todo = set(), set(), [self.params[field]]
            while todo:
                message = todo.pop()
                if message not in seen:
                    seen.add(message)
                    for f in self.messages.get(message, ()):
                        if f[2] == "message":
                            names.add(f[0])
                            todo.append(f[6])
            self._nested[field] = names
        return self._nested[field]

    def messages_of(self, type_name):
        """The ``LayerParameter`` fields ``type_name``'s layer reads."""
        own = [f for f in self.params if f[:-len("_param")].replace("_", "") == type_name.lower()]
        return tuple(dict.fromkeys(own + [f for f in SHARED.get(type_name, ())
                                          if f in self.params]))


# -- one Python file ----------------------------------------------------------------------------
def _strings(nodes):
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_function(node):
    return isinstance(node, (ast.Name, ast.Attribute, ast.Lambda, ast.Call))


def _types(names):
    return {n for n in names if TYPE_NAME.fullmatch(n)}


class PythonFile:
    """What one Python file does with layer types and parameter messages."""

    def __init__(self, path, text, schema, siblings=frozenset()):
        self.path, self.schema, self.siblings = path, schema, siblings
        self.module = ast.parse(text)
        self.parent, self._scope_of = {}, {}
        self.nodes = list(ast.walk(self.module))
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        self.registered, self.implemented = self._implemented()
        self.referred = self._referred()
        self.imports = self._imports()
        self.defined = {}                   # scope -> {name: FunctionDef or ClassDef}
        for node in self.nodes:
            if isinstance(node, FUNCTIONS + (ast.ClassDef,)):
                self.defined.setdefault(self._scope(node), {})[node.name] = node
        self.bound = {}                     # (scope, name or self.attr) -> message fields

    # implements
    def _implemented(self):
        registered, names = set(), set()
        for node in self.nodes:
            for dec in getattr(node, "decorator_list", ()):
                if isinstance(dec, ast.Call):
                    registered.update(_strings(dec.args))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
                registered.update(_strings(node.func.args))
            if isinstance(node, ast.Dict):
                names.update(_strings(k for k, v in zip(node.keys, node.values)
                                      if self._implementation(v)))
            if isinstance(node, ast.DictComp) and _is_function(node.value):
                for gen in node.generators:
                    if isinstance(gen.iter, (ast.Tuple, ast.List, ast.Set)):
                        names.update(_strings(gen.iter.elts))
            if isinstance(node, ast.Tuple) and len(node.elts) == 2 and \
                    isinstance(node.elts[1], (ast.Name, ast.Attribute, ast.Lambda)):
                names.update(_strings(node.elts[:1]))
        for statement in self.module.body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
                names.update(_strings(statement.value.args))
        registered = _types(registered)
        return registered, registered | _types(names)

    def _implementation(self, node):
        """Whether ``node`` names an implementation: a function (a name, an attribute, a
        lambda, a call) or a module beside this one (a lazy table's ``"pooling"``)."""
        if isinstance(node, ast.Constant):
            return node.value in self.siblings
        return _is_function(node)

    # refers
    def _referred(self):
        schema = self.schema
        skip = set()
        for node in self.nodes:
            if isinstance(node, (ast.Module, ast.ClassDef) + FUNCTIONS):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and \
                        isinstance(body[0].value, ast.Constant):
                    skip.add(body[0].value)
            if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
                items = node.values if isinstance(node, ast.Dict) else node.elts
                items = [i for i in items if isinstance(i, ast.Constant)
                         and isinstance(i.value, str) and self._message_string(i.value)]
                if len({self._message_string(i.value) for i in items}) >= 3:
                    skip.update(items)
        out = set()
        for node in self.nodes:
            if isinstance(node, ast.Attribute):
                if node.attr in schema.params:
                    out.add(node.attr)
                elif node.attr in schema.by_type_name:
                    out.add(schema.by_type_name[node.attr])
            elif isinstance(node, ast.Name) and node.id in schema.by_type_name:
                out.add(schema.by_type_name[node.id])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node not in skip and self._message_string(node.value):
                out.add(self._message_string(node.value))
        return out

    def _message_string(self, text):
        if text in self.schema.by_type_name:
            return self.schema.by_type_name[text]
        head = text.split(".")[0]
        if head in self.schema.params and re.fullmatch(r"\w+(\.\w+)*", text):
            return head
        return None

    # imports: alias -> (dotted module, name or None)
    def _imports(self):
        package = self.path.split("/")[:-1]
        out = {}
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        out[alias.asname] = (alias.name, None)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[:len(package) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    out[alias.asname or alias.name] = (module, alias.name)
        return out

    # scopes
    def _scope(self, node):
        if node not in self._scope_of:
            up = self.parent.get(node)
            while up is not None and not isinstance(up, SCOPES):
                up = self.parent.get(up)
            self._scope_of[node] = up
        return self._scope_of[node]

    def _scopes(self, node):
        scope = self._scope(node)
        while scope is not None:
            yield scope
            scope = self._scope(scope)

    # messages
    def message(self, node):
        """The ``LayerParameter`` fields whose message ``node`` may be (empty: none)."""
        if isinstance(node, ast.Attribute):
            if node.attr in self.schema.params and not isinstance(node.ctx, ast.Store):
                return frozenset({node.attr})
            inner = self.message(node.value)
            if inner:
                return frozenset(f for f in inner if node.attr in self.schema.nested(f))
        if isinstance(node, (ast.Name, ast.Attribute)) and self.bound:
            key = ast.unparse(node)
            for scope in self._scopes(node):
                if (scope, key) in self.bound:
                    return self.bound[scope, key]
        if isinstance(node, ast.Subscript):
            return self.message(node.value)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr" and \
                len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and \
                node.args[1].value in self.schema.params:
            return frozenset({node.args[1].value})
        return frozenset()

    def settle(self):
        """Bind names from message expressions until nothing new is bound."""
        while True:
            new = False
            for node in self.nodes:
                pairs = []
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                            pairs += zip(target.elts, node.value.elts)
                        else:
                            pairs.append((target, node.value))
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value:
                    pairs.append((node.target, node.value))
                for target, value in pairs:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        fields = self.message(value)
                        if fields:
                            new |= self.bind(target, fields)
            if not new:
                return

    def bind(self, target, fields):
        if isinstance(target, ast.Name):
            scope = self._scope(target)
        else:                               # self.cp = ...: the class's
            scope = next((s for s in self._scopes(target)
                          if isinstance(s, (ast.ClassDef, ast.Module))), None)
        return self.bind_in(scope, ast.unparse(target), fields)

    def bind_in(self, scope, name, fields):
        """Bind ``name`` in ``scope`` to ``fields`` too; True where that is new."""
        old = self.bound.get((scope, name), frozenset())
        if fields <= old:
            return False
        self.bound[scope, name] = old | fields
        return True

    def handed(self):
        """``(call, argument position or keyword, fields)`` of each message expression this
        file hands to a call."""
        out = []
        for node in self.nodes:
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") != "getattr":
                for i, arg in enumerate(node.args):
                    fields = self.message(arg)
                    if fields:
                        out.append((node, i, fields))
                for keyword in node.keywords:
                    fields = self.message(keyword.value) if keyword.arg else None
                    if fields:
                        out.append((node, keyword.arg, fields))
        return out

    def local(self, name, node):
        """The function or class ``name`` as seen from ``node``, defined in this file."""
        for scope in self._scopes(node):
            found = self.defined.get(scope, {}).get(name)
            if found is not None:
                return found
        return None

    def reads(self):
        """The message fields this file reads."""
        out = set()
        for node in self.nodes:
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr" and \
                    node.args:
                out |= self.message(node.args[0])
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and \
                    node.attr not in WRITES:
                fields = self.message(node.value)
                if not fields:
                    continue
                above = self.parent.get(node)
                if isinstance(above, ast.Attribute) and above.attr in WRITES:
                    continue
                if isinstance(above, (ast.Attribute, ast.Subscript)) and \
                        above.value is node and not isinstance(above.ctx, ast.Load):
                    continue
                out |= fields
        return out


# -- the whole tree -----------------------------------------------------------------------------
class Tree:
    """Every counted file of a checkout, with the messages handed between its functions."""

    def __init__(self, tree):
        self.schema = Schema(tree)
        self.files, self.c_files = {}, {}
        paths = source_files(tree)
        folders = {}
        for path in paths:
            folder, name = os.path.split(path)
            if name.endswith(".py"):
                folders.setdefault(folder, set()).add(name[:-3])
        for path in paths:
            text = open(os.path.join(tree, path), encoding="utf-8").read()
            if path.endswith(".c"):
                self.c_files[path] = set(re.findall(r"\b([A-Z][A-Za-z0-9]*)Layer\b", text))
            else:
                self.files[path] = PythonFile(path, text, self.schema,
                                              folders[os.path.dirname(path)])
        self.by_module = {}
        for path, found in self.files.items():
            dotted = path[:-3].replace("/", ".")
            self.by_module[dotted[:-len(".__init__")] if dotted.endswith(".__init__")
                           else dotted] = found
        self._flow()

    def _definition(self, found, name, depth=0):
        """``(file, def)`` of top-level ``name`` of ``found``, through its imports."""
        node = found.defined.get(found.module, {}).get(name)
        if node is not None:
            return found, node
        if name in found.imports and depth < 4:
            module, attr = found.imports[name]
            target = self.by_module.get(module)
            if target is not None and attr is not None:
                return self._definition(target, attr, depth + 1)
        return None

    def _callee(self, found, call):
        """``(file, FunctionDef, skip)`` that ``call`` runs (``skip``: leading parameters
        the call does not give: self), or None."""
        func, hit = call.func, None
        if isinstance(func, ast.Name):
            node = found.local(func.id, call)
            hit = (found, node) if node is not None else None
            if hit is None and func.id in found.imports:
                module, attr = found.imports[func.id]
                target = self.by_module.get(module)
                if target is not None and attr is not None:
                    hit = self._definition(target, attr)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner in ("self", "cls"):
                cls = next((s for s in found._scopes(call) if isinstance(s, ast.ClassDef)),
                           None)
                node = next((n for n in (cls.body if cls else ())
                             if isinstance(n, FUNCTIONS) and n.name == func.attr), None)
                hit = (found, node) if node is not None else None
            elif owner in found.imports:
                module, attr = found.imports[owner]
                dotted = module if attr is None else f"{module}.{attr}"
                target = self.by_module.get(dotted)
                if target is not None:
                    hit = self._definition(target, func.attr)
        if hit is None:
            return None
        where, node = hit
        skip = 0
        if isinstance(node, ast.ClassDef):
            node = next((n for n in node.body if isinstance(n, FUNCTIONS)
                         and n.name == "__init__"), None)
            skip = 1
        elif isinstance(where._scope(node), ast.ClassDef) and not any(
                getattr(d, "id", "") == "staticmethod" for d in node.decorator_list):
            skip = 1
        return None if node is None else (where, node, skip)

    def _flow(self):
        """Bind the parameters of the functions handed message expressions, file by file,
        until nothing new is bound."""
        todo = set(self.files.values())
        while todo:
            for found in todo:
                found.settle()
            touched = set()
            for found in todo:
                for call, where, fields in found.handed():
                    callee = self._callee(found, call)
                    if callee is None:
                        continue
                    target, node, skip = callee
                    names = [a.arg for a in node.args.posonlyargs + node.args.args]
                    if isinstance(where, int):
                        name = names[where + skip] if where + skip < len(names) else None
                    else:
                        name = where if where in names or where in [
                            a.arg for a in node.args.kwonlyargs] else None
                    if name is not None and target.bind_in(node, name, fields):
                        touched.add(target)
            todo = touched

    def types(self):
        """The types some file registers."""
        return set().union(*(f.registered for f in self.files.values()))

    def places(self, types=None):
        """``{type: (files (a), parsing files (b))}``."""
        types = self.types() if types is None else set(types)
        users = {}
        for type_name in types:
            for field in self.schema.messages_of(type_name):
                users.setdefault(field, set()).add(type_name)

        def owners(fields, implemented):
            names = set()
            for field in fields:
                some = users.get(field, set())
                names |= (some & implemented) or some
            return names
        out = {t: (set(), set()) for t in types}
        for path, found in self.files.items():
            reads = found.reads()
            for type_name in (found.implemented & types) | owners(
                    found.referred | reads, found.implemented):
                out[type_name][0].add(path)
            for type_name in owners(reads, found.implemented):
                out[type_name][1].add(path)
        for path, named in self.c_files.items():
            for type_name in named & types:
                out[type_name][0].add(path)
        return out


# -- the table ----------------------------------------------------------------------------------
def short(path):
    return path[len("caffe_compat/"):] if path.startswith("caffe_compat/") else path


def ordered(paths):
    """Rule modules first, then by path."""
    return sorted(paths, key=lambda p: (not p.startswith(RULES), p))


def which(paths):
    return ", ".join(short(p) for p in ordered(paths))


def parsing(paths):
    """The places among the parsing files ``paths``: each file outside ``caffe_compat/rules/``,
    and the rules package as one (a rule module and the helpers there it hands the message
    to)."""
    outside = [p for p in paths if not p.startswith(RULES)]
    return len(outside) + (len(outside) < len(paths))


def table(after, before=None, top=25, names=None):
    """The markdown table's lines: the ``top`` types of ``after`` by files (a), or ``names``."""
    rows = sorted(after, key=lambda t: (-len(after[t][0]), t))
    if names:
        rows = [t for t in rows if t in names]
    elif top:
        rows = rows[:top]
    if before is None:
        lines = ["| type | files (a) | parsing (b) | which (b) |", "|---|---:|---:|---|"]
        lines += [f"| {t} | {len(after[t][0])} | {parsing(after[t][1])} | "
                  f"{which(after[t][1])} |" for t in rows]
        return lines
    lines = ["| type | files (a) before | files (a) after | parsing (b) before | "
             "parsing (b) after | which (b) after |", "|---|---:|---:|---:|---:|---|"]
    for t in rows:
        (a, b), (a0, b0) = after[t], before.get(t, (set(), set()))
        lines.append(f"| {t} | {len(a0)} | {len(a)} | {parsing(b0)} | {parsing(b)} | "
                     f"{which(b)} |")
    return lines


def more_than_one(after):
    """A line for each type parsed in more than one place, with the files."""
    return [f"- {t} ({parsing(b)}): {which(b)}" for t, (_, b) in sorted(after.items())
            if parsing(b) > 1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=HERE, help="the checkout to count (default: this one)")
    parser.add_argument("--before", help="another checkout, counted beside it")
    parser.add_argument("--top", type=int, default=25,
                        help="the types with the most files (a) (0: all)")
    parser.add_argument("--type", action="append", dest="types", help="this type only")
    parser.add_argument("--more", action="store_true",
                        help="then the types whose parsing files are more than one")
    args = parser.parse_args(argv)
    tree = Tree(args.tree)
    if args.before:
        old = Tree(args.before)
        names = tree.types() | old.types()
        after, before = tree.places(names), old.places(names)
    else:
        after, before = tree.places(), None
    print("\n".join(table(after, before, args.top, args.types)))
    if args.more:
        print()
        print("\n".join(more_than_one(after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
