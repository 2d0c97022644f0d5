"""LSTM: Caffe's LSTMLayer, a RecurrentLayer (see :mod:`caffe_compat.layers._recurrent` for the
bottoms, tops, hidden state and backward rules) whose unrolled net is, for t = 1..T:

    h_conted_{t-1} = cont_t * h_{t-1}                                  (Scale, axis 0)
    gate_input_t   = W_hc h_conted_{t-1} + (W_xc x_t + b_c) [+ W_xc_static x_static]  (Eltwise SUM)
    c_t, h_t       = LSTMUnit(c_{t-1}, gate_input_t, cont_t)           (see lstm_unit.py)

with the input transform ``W_xc x + b_c`` computed for all steps at once (InnerProduct,
axis 2). Gates are laid out i, f, o, g (H rows each) in every weight and in ``b_c``.

Parameter blobs, in Caffe's order (the unrolled net's owned parameters): ``W_xc`` (4H x I),
``b_c`` (4H), ``W_xc_static`` (4H x S, only with a static input), ``W_hc`` (4H x H); weights
filled by ``recurrent_param.weight_filler``, the bias by ``bias_filler``. States: h and c;
with ``expose_hidden`` the bottoms are x, cont, [x_static], h_0, c_0 and the tops h, h_T, c_T.
"""
import torch

from ._recurrent import RecurrentLayer, inner_product
from .lstm_unit import lstm_unit
from .registry import register_layer


@register_layer("LSTM")
class LSTM(RecurrentLayer):
    kind = "LSTM"

    def run_steps(self, x, cont, x_static, states):
        T, n, _ = x.shape
        h, c = states
        gates_x = inner_product(x.reshape(T * n, -1), self.W_xc, self.b_c).reshape(T, n, -1)
        static = None if x_static is None else inner_product(x_static, self.W_xc_static)
        outputs = []
        for t in range(T):
            cont_t = cont[t].to(x.dtype)
            h_conted = h * cont_t.unsqueeze(1)
            gate = inner_product(h_conted, self.W_hc) + gates_x[t]
            if static is not None:
                gate = gate + static
            c, h = lstm_unit(c, gate, cont_t)
            outputs.append(h)
        return torch.stack(outputs), (h, c)
