"""Maclean 2021's classification protocol: 8-class emotion of video clips at 3 resolutions x
3 frame rates, per-frame classifier, and mean / mode / CNN-LSTM over each clip.

Modules: :mod:`.labels` (class names and codes), :mod:`.ravdess` and :mod:`.ferplus` (data
readers), :mod:`.metrics` (accuracy, UAR, F1, confusion matrices with bootstrap intervals),
:mod:`.faces` and :mod:`.sample` (the labelled bundled sample), :mod:`.frames` (degradation and
face crops), :mod:`.perframe_nets` (the per-frame nets by name: :mod:`.perframe`'s small net,
:mod:`.perframe_resnet`'s ResNet-50 with :mod:`.resnet50` and :mod:`.resnet50_layouts`) and
:mod:`.clips` (the classifiers over clips), :mod:`.tables` (the seed's
table layouts, pictures and verdicts) and :mod:`.protocol` (the resumable command).
"""
