"""RNN: Caffe's RNNLayer, a RecurrentLayer (see :mod:`caffe_compat.layers._recurrent` for the
bottoms, tops, hidden state and backward rules) whose unrolled net is, for t = 1..T:

    h_t = tanh(W_hh (cont_t * h_{t-1}) + (W_xh x_t + b_h) [+ W_xh_static x_static])
    o_t = tanh(W_ho h_t + b_o)

(Scale, InnerProduct, Eltwise SUM in that bottom order, TanH), with the input transform
``W_xh x + b_h`` computed for all steps at once (InnerProduct, axis 2). The top is o (T x N x H).

Parameter blobs, in Caffe's order (the unrolled net's owned parameters): ``W_xh`` (H x I),
``b_h`` (H), ``W_xh_static`` (H x S, only with a static input), ``W_hh`` (H x H), ``W_ho``
(H x H), ``b_o`` (H); weights filled by ``recurrent_param.weight_filler``, biases by
``bias_filler``. With ``expose_hidden`` the bottoms are x, cont, [x_static], h_0 and the tops
o, h_T.
"""
import torch

from ._recurrent import RecurrentLayer, inner_product
from .registry import register_layer


@register_layer("RNN")
class RNN(RecurrentLayer):
    kind = "RNN"

    def run_steps(self, x, cont, x_static, states):
        T, n, _ = x.shape
        (h,) = states
        pre_x = inner_product(x.reshape(T * n, -1), self.W_xh, self.b_h).reshape(T, n, -1)
        static = None if x_static is None else inner_product(x_static, self.W_xh_static)
        outputs = []
        for t in range(T):
            h_conted = h * cont[t].to(x.dtype).unsqueeze(1)
            pre = inner_product(h_conted, self.W_hh) + pre_x[t]
            if static is not None:
                pre = pre + static
            h = torch.tanh(pre)
            outputs.append(torch.tanh(inner_product(h, self.W_ho, self.b_o)))
        return torch.stack(outputs), (h,)
