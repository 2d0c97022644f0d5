"""A small prototxt writer for the public deploy nets (current ``layer {}`` format, plus the V1
``layers {}`` and V0 ``layers { layer {} }`` formats of the older files)."""


class Enum(str):
    """An enum value (written without quotes): MAX, WITHIN_CHANNEL, CONVOLUTION, ..."""


def _fmt(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value) if isinstance(value, float) else str(value)


def message(name, fields):
    """``name { key: value ... }`` with repeated fields given as lists, sub-messages as dicts."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, dict):
                parts.append(message(key, v))
            else:
                parts.append(f"{key}: {_fmt(v)}")
    return f"{name} {{ " + " ".join(parts) + " }"


class Net:
    """Layers appended in order; ``text()`` gives the prototxt. Blob names follow the public
    files (in-place ReLU/BatchNorm/Scale/Dropout write over their bottom)."""

    def __init__(self, name, inputs, input_style="input_shape"):
        self.name = name
        self.inputs = dict(inputs)
        self.input_style = input_style
        self.layers = []

    def add(self, name, type_, bottoms, tops=None, **params):
        tops = [name] if tops is None else tops
        self.layers.append((name, type_, list(bottoms), list(tops), params))
        return tops[0] if len(tops) == 1 else tops

    # -- common layers ------------------------------------------------------------------
    def conv(self, name, bottom, num, k, s=1, p=0, group=1, bias=True, dilation=1, top=None,
             kh=None, kw=None, ph=None, pw=None, type_="Convolution"):
        spec = {"num_output": num}
        if kh is not None:
            spec.update(kernel_h=kh, kernel_w=kw)
        else:
            spec["kernel_size"] = k
        if s != 1:
            spec["stride"] = s
        if ph is not None:
            spec.update(pad_h=ph, pad_w=pw)
        elif p:
            spec["pad"] = p
        if group != 1:
            spec["group"] = group
        if dilation != 1:
            spec["dilation"] = dilation
        if not bias:
            spec["bias_term"] = False
        return self.add(name, type_, [bottom], [top or name], convolution_param=spec)

    def relu(self, name, blob):
        return self.add(name, "ReLU", [blob], [blob])

    def bn(self, name, blob, eps=None):
        spec = {"use_global_stats": True}
        if eps is not None:
            spec["eps"] = eps
        return self.add(name, "BatchNorm", [blob], [blob], batch_norm_param=spec)

    def scale(self, name, blob, bias=True):
        return self.add(name, "Scale", [blob], [blob], scale_param={"bias_term": bias})

    def pool(self, name, bottom, method, k=None, s=1, p=0, global_pool=False, top=None):
        spec = {"pool": Enum(method)}
        if global_pool:
            spec["global_pooling"] = True
        else:
            spec["kernel_size"] = k
            spec["stride"] = s
            if p:
                spec["pad"] = p
        return self.add(name, "Pooling", [bottom], [top or name], pooling_param=spec)

    def lrn(self, name, bottom, size=5, alpha=1e-4, beta=0.75, within=False):
        spec = {"local_size": size, "alpha": alpha, "beta": beta}
        if within:
            spec["norm_region"] = Enum("WITHIN_CHANNEL")
        return self.add(name, "LRN", [bottom], lrn_param=spec)

    def ip(self, name, bottom, num):
        return self.add(name, "InnerProduct", [bottom], inner_product_param={"num_output": num})

    def dropout(self, name, blob, ratio=0.5):
        return self.add(name, "Dropout", [blob], [blob], dropout_param={"dropout_ratio": ratio})

    def concat(self, name, bottoms, axis=None):
        return self.add(name, "Concat", bottoms,
                        **({"concat_param": {"axis": axis}} if axis is not None else {}))

    def eltwise(self, name, bottoms):
        return self.add(name, "Eltwise", bottoms)

    def softmax(self, name, bottom):
        return self.add(name, "Softmax", [bottom])

    # -- text ----------------------------------------------------------------------------
    def _inputs_text(self):
        out = ""
        for n, shape in self.inputs.items():
            out += f'input: "{n}"\n'
            if self.input_style == "input_dim":
                out += "".join(f"input_dim: {d}\n" for d in shape)
            else:
                out += message("input_shape", {"dim": list(shape)}) + "\n"
        return out

    def text(self):
        out = f'name: "{self.name}"\n' + self._inputs_text()
        for name, type_, bottoms, tops, params in self.layers:
            fields = {"name": name, "type": type_, "bottom": bottoms, "top": tops}
            fields.update(params)
            out += message("layer", fields) + "\n"
        return out

    def text_v1(self):
        """The V1 format (``layers {}`` with enum types), as the 2014 deploy files."""
        out = f'name: "{self.name}"\n' + self._inputs_text()
        for name, type_, bottoms, tops, params in self.layers:
            fields = {"name": name, "type": Enum(V1_TYPES[type_]), "bottom": bottoms,
                      "top": tops}
            fields.update(params)
            out += message("layers", fields) + "\n"
        return out

    def text_v0(self):
        """The V0 format (``layers { layer { ... } bottom top }``, flat lower-case fields)."""
        out = f'name: "{self.name}"\n' + self._inputs_text()
        for name, type_, bottoms, tops, params in self.layers:
            inner = {"name": name, "type": V0_TYPES[type_]}
            for spec in params.values():
                for key, value in spec.items():
                    inner[V0_FIELDS.get(key, key)] = value
            out += ("layers { " + message("layer", inner)
                    + "".join(f' bottom: "{b}"' for b in bottoms)
                    + "".join(f' top: "{t}"' for t in tops) + " }\n")
        return out


V1_TYPES = {"Convolution": "CONVOLUTION", "ReLU": "RELU", "Pooling": "POOLING", "LRN": "LRN",
            "InnerProduct": "INNER_PRODUCT", "Dropout": "DROPOUT", "Softmax": "SOFTMAX",
            "Concat": "CONCAT"}
V0_TYPES = {"Convolution": "conv", "ReLU": "relu", "Pooling": "pool", "LRN": "lrn",
            "InnerProduct": "innerproduct", "Dropout": "dropout", "Softmax": "softmax"}
V0_FIELDS = {"kernel_size": "kernelsize"}
