"""Run a generated model.py in a process that cannot import caffe_compat (the export check).

    python -I -B _check_child.py OUT_DIR CASES.pt RESULT.pt [--compile] [--autocast]
        [--threads N]

Imports torch only (this file is run by path, never imported by caffe_compat): every sys.path
entry holding a ``caffe_compat`` package is dropped first, and the run fails if the package is
still importable. For each case of CASES.pt (inputs by Caffe blob name, a weight per output)
it runs the model (float32), then, for the first case, under ``torch.compile`` and under CPU
autocast (bfloat16); then, in float64, back-propagates ``sum(weight * output)``; it saves the
outputs and the gradients of the inputs and parameters.
"""
import importlib.util
import os
import sys


def isolate():
    sys.path[:] = [p for p in sys.path
                   if not os.path.isdir(os.path.join(p or os.getcwd(), "caffe_compat"))]
    if importlib.util.find_spec("caffe_compat") is not None:
        raise SystemExit("caffe_compat is still importable; the check needs a process "
                         "without it")


def load_model(out_dir):
    spec = importlib.util.spec_from_file_location("generated_model",
                                                  os.path.join(out_dir, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(out_dir)


def outputs(model, case):
    import torch
    with torch.no_grad():
        out = model(*[case["inputs"][n] for n in model.input_names])
    return {k: v.detach() for k, v in out.items()}


def gradients(model, case):
    """The gradients of ``sum(weight * output)`` of a float64 model (see
    caffe_compat/export/pytorch/check.py)."""
    import torch
    result = {"input_grads": {}, "param_grads": {}}
    if not case["weights"]:
        return result
    model.zero_grad(set_to_none=True)
    inputs = {k: v.double().requires_grad_(True) for k, v in case["inputs"].items()}
    out = model(*[inputs[n] for n in model.input_names])
    loss = sum((out[k] * w.double()).sum() for k, w in case["weights"].items())
    if torch.is_tensor(loss) and loss.requires_grad:
        loss.backward()
        result["input_grads"] = {k: v.grad for k, v in inputs.items() if v.grad is not None}
        result["param_grads"] = {k: p.grad.clone() for k, p in model.named_parameters()
                                 if p.grad is not None}
    return result


def main(argv):
    """Outputs in float32 for every case, then torch.compile and autocast on the first, then
    the gradients in float64 (the model turned to float64 once)."""
    out_dir, cases_path, result_path = argv[:3]
    isolate()
    import torch
    if "--threads" in argv:
        torch.set_num_threads(int(argv[argv.index("--threads") + 1]))
    model = load_model(out_dir)
    cases = torch.load(cases_path, weights_only=True)
    result = {"cases": [{"outputs": outputs(model, c)} for c in cases]}
    first = [cases[0]["inputs"][n] for n in model.input_names]
    with torch.no_grad():
        if "--compile" in argv:
            compiled = torch.compile(model)
            result["compiled"] = {k: v.detach() for k, v in compiled(*first).items()}
        if "--autocast" in argv:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(*first)
            result["autocast"] = {k: v.detach().float() for k, v in out.items()}
    if any(c["weights"] for c in cases):
        model.double()
    for got, case in zip(result["cases"], cases):
        got.update(gradients(model, case))
    torch.save(result, result_path)


if __name__ == "__main__":
    main(sys.argv[1:])
