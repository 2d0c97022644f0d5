"""Which top-level ``layer { }`` / ``layers { }`` block of a prototxt holds a given line.

Used to name the layer in messages about fields of that layer (the protobuf text parser reports
lines, not layers). A light scan: strings and ``#`` comments are skipped, braces counted."""
import re

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*|[{}]|\n|[A-Za-z_]\w*')


def layer_spans(text):
    """[(field name, first line, last line), ...] of the top-level layer blocks, in order."""
    spans, depth, line, last_word, current = [], 0, 1, None, None
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok == "\n":
            line += 1
        elif tok == "{":
            if depth == 0 and last_word in ("layer", "layers"):
                current = [last_word, line]
            depth += 1
        elif tok == "}":
            depth = max(depth - 1, 0)
            if depth == 0 and current is not None:
                spans.append((current[0], current[1], line))
                current = None
        elif tok[0] not in "#\"'":
            last_word = tok
        line += tok.count("\n") if tok[0] in "\"'" else 0
    return spans


def layer_of_line(message, text, line):
    """The name (or ``#index``) of the layer whose block holds ``line``, or None."""
    counters = {"layer": 0, "layers": 0}
    for field, first, last in layer_spans(text):
        index = counters[field]
        counters[field] += 1
        if first <= line <= last:
            layers = getattr(message, field, None)
            if layers is not None and index < len(layers) and layers[index].name:
                return f"'{layers[index].name}'"
            return f"#{index}"
    return None
