"""pycaffe's ``caffe.draw``: diagrams of NetParameters through pydot and Graphviz (the rules
are in :mod:`caffe_compat.tools.draw`)."""
from caffe_compat.tools.draw import (BLOB_STYLE, LAYER_STYLE_DEFAULT, NEURON_LAYER_STYLE,
                               choose_color_by_layertype, draw_net, draw_net_to_file,
                               get_edge_label, get_layer_label, get_layer_lr_mult,
                               get_pooling_types_dict, get_pydot_graph)

__all__ = ["get_pooling_types_dict", "get_edge_label", "get_layer_lr_mult", "get_layer_label",
           "choose_color_by_layertype", "get_pydot_graph", "draw_net", "draw_net_to_file",
           "LAYER_STYLE_DEFAULT", "NEURON_LAYER_STYLE", "BLOB_STYLE"]
