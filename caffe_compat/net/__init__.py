"""Building and running a net: :mod:`.core` (the ``Net`` class: forward, backward, blobs and
params), :mod:`.build` (layers set up from a NetParameter, parameters filled), :mod:`.weights`
(caffemodel weights in and out), :mod:`.blob` (pycaffe's Blob view), :mod:`.graph` (phase
filtering, split insertion, the layer graph), :mod:`.stepwise` (a forward or backward layer by
layer), :mod:`.train_plan` (the training step without autograd), :mod:`.signature` (which
weights fit which net), :mod:`.summary` (Caffe's net-initialisation log and layer tables) and
:mod:`.architectures` (naming a net's architecture)."""
