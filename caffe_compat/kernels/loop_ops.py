"""The opcodes of the compiled training loop (``_tiny_solve.c``), by name: the torch engine's
operations (:mod:`caffe_compat.solvers.tiny`) and the array engine's (``A*``,
:mod:`caffe_compat.array_solver.loop`)."""

OPS = dict(ZERO=1, DATA=2, IP_FWD=3, RELU_FWD=4, SMLOSS_FWD=5, LOSS=6, SMLOSS_BWD=7, ADD=8,
           COPY=9, RELU_BWD=10, IP_BWD=11, UPDATE=12, ADVANCE=13, LINEAR=14, ACCURACY=15,
           OUTPUT=16, LOSS_VALUE=17, SIGMOID_FWD=18, SIGMOID_BWD=19, TANH_FWD=20,
           TANH_BWD=21, EUCLID_FWD=22, EUCLID_BWD=23, ASMLOSS_FWD=24, ARELU_FWD=25,
           ARELU_BWD=26, AIP_BWD=27, ALOSS=28)
