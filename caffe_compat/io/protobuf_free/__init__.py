"""A Caffe deploy net and its caffemodel read without protobuf (:mod:`.message`, :mod:`.text`,
:mod:`.weights`, :mod:`.deploy`), for the cv2.dnn programs that read a net, run it once on the
torch-free path and exit (importing protobuf costs them more than their forward).

The reader takes the plain forms only: a current-format definition (``layer`` entries; the
``input`` fields too), the fields of Caffe's schema (:mod:`caffe_compat.proto.schema`), values
written plainly, and a caffemodel of packed float values whose every field the schema knows.
Anything else gives None, and the net is read by the protobuf reader of
:mod:`caffe_compat.io`, with its messages, warnings and errors. What the light reader accepts
it reads as protobuf does (tests/caffe_compat/protobuf_free checks every prototxt and
caffemodel of the test suite both ways, field by field)."""
