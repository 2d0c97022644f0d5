"""The inference plan and the engines: :mod:`.fast_inference` (Convolution / InnerProduct ->
BatchNorm -> Scale -> ReLU chains folded into one layer, one plan for every device, its device
choices a row of ``ROWS``), :mod:`.fast_layers` (the CPU row's channels-last forms of the
layers between them), :mod:`.fast_run` (the plan's forward as a flat list of steps) and
:mod:`.engines` (torch, ONNX Runtime and OpenVINO behind one runner); :mod:`.precision_runner`
(``caffe_compat.reduced_precision``: a net's int8 forwards)."""
