"""The fast inference path and the engines: :mod:`.fast_inference` (Convolution -> BatchNorm ->
Scale -> ReLU chains folded into one convolution), :mod:`.fast_layers` (channels-last forms of
the layers between them), :mod:`.fast_run` (the plan's forward as a flat list of steps) and
:mod:`.engines` (torch, ONNX Runtime and OpenVINO behind one runner); :mod:`.precision_runner`
(``caffe_compat.reduced_precision``: a net's int8 forwards).
"""
