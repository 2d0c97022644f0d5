"""The classify command with the seed's per-frame net: ResNet-50 fine-tuned on FER+ from a
caffemodel in He et al.'s or VGGFace2's layer names (random weights written here), its inputs,
its errors, and the whole protocol on tiny synthetic FER+ CSVs and RAVDESS-named clips."""
import json
import os

import cv2
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.io.caffemodel import read_caffemodel, write_caffemodel
from caffe_compat.io.prototxt import read_net
from caffe_compat.proto import caffe_pb2
from reproduction.classification import frames as F
from reproduction.classification import perframe_resnet as PR
from reproduction.classification import protocol
from reproduction.classification import resnet50_layouts as L
from reproduction.errors import ReproductionError
from tests.conftest import REPO
from tests.reproduction.classification.test_readers import _write_fer

PROTOTXT = REPO / "prototxt"
TINY = protocol.Schedule("tiny", 1, 2, 2, 2, 8)


@pytest.fixture(scope="module")
def he_weights(tmp_path_factory):
    """ImageNet ResNet-50's layout (fc1000 included), random values of a trainable scale:
    the prototxt's MSRA fillers for the convolutions, BatchNorm statistics of a unit normal
    (mean 0, variance 1, factor 1), the Scale after conv1 at 0.01 (pixels minus the mean are
    up to 150) and those ending the residual branches at 0.1, so that activations stay of
    order 1 and a training step keeps them finite."""
    import torch
    path = tmp_path_factory.mktemp("he") / "he.caffemodel"
    param = read_net(str(PROTOTXT / "resnet50_ferplus_deploy.prototxt"))
    for lp in param.layer:
        if lp.name == "fc_emotion":
            lp.name, lp.top[0] = "fc1000", "fc1000"
            lp.inner_product_param.num_output = 1000
        if lp.name == "prob":
            lp.bottom[0] = "fc1000"
    net = Net(param, phase="test", seed=0)
    with torch.no_grad():
        for name, blobs in net.params.items():
            if name.startswith("bn"):
                for blob, value in zip(blobs, (0.0, 1.0, 1.0)):
                    torch.as_tensor(blob.data).fill_(value)
            elif name == "scale_conv1":
                torch.as_tensor(blobs[0].data).fill_(0.01)
            elif name.startswith("scale") and name.endswith("branch2c"):
                torch.as_tensor(blobs[0].data).fill_(0.1)
    net.save(str(path))
    return path


@pytest.fixture(scope="module")
def vggface2_weights(he_weights, tmp_path_factory):
    """The same values under VGGFace2's names, with a (shrunk) 'classifier' layer."""
    back = {v: k for k, v in L.VGGFACE2_TO_HE.items()}
    src = read_caffemodel(str(he_weights))
    out = caffe_pb2.NetParameter(name="resnet50_vggface2")
    for lp in src.layer:
        if lp.name in back:
            out.layer.add(name=back[lp.name], type=lp.type).blobs.extend(lp.blobs)
    cls = out.layer.add(name="classifier", type="InnerProduct")
    cls.blobs.add().shape.dim.extend([3, 2048])
    cls.blobs[0].data.extend([0.5] * 3 * 2048)
    path = tmp_path_factory.mktemp("vgg") / "resnet50_ft.caffemodel"
    write_caffemodel(out, str(path))
    return path


def test_vggface2_map_covers_resnet50_one_to_one():
    he = [s.name for s in L.he_signature()]
    assert len(he) == 159                       # 53 convolutions, each with BatchNorm and Scale
    assert sorted(L.VGGFACE2_TO_HE.values()) == sorted(he)
    assert L.VGGFACE2_TO_HE["conv1/7x7_s2/bn/scale"] == "scale_conv1"
    assert L.VGGFACE2_TO_HE["conv3_1_1x1_proj"] == "res3a_branch1"
    assert L.VGGFACE2_TO_HE["conv4_6_1x1_increase/bn"] == "bn4f_branch2c"
    assert L.VGGFACE2_TO_HE["conv5_3_3x3"] == "res5c_branch2b"


def test_he_signature_is_the_deploy_nets():
    from caffe_compat.net.signature import net_signature
    net = Net(str(PROTOTXT / "resnet50_ferplus_deploy.prototxt"), phase="test")
    assert tuple(s for s in net_signature(net) if s.name != "fc_emotion") == L.he_signature()


def test_mean_of_each_layout_is_the_zoos():
    import lq_models
    for m in lq_models.published():
        assert PR.MEAN_BGR[m.layout] == m.mean_bgr


def test_he_layout_is_used_as_is(he_weights, tmp_path):
    assert L.prepare_init_weights(he_weights, tmp_path) == (str(he_weights), "he")


def test_vggface2_layout_is_renamed_value_for_value(he_weights, vggface2_weights, tmp_path):
    path, layout = L.prepare_init_weights(vggface2_weights, tmp_path)
    assert layout == "vggface2" and path == str(tmp_path / "init_he_layout.caffemodel")
    got = Net(str(PROTOTXT / "resnet50_ferplus_deploy.prototxt"), path, phase="test")
    want = Net(str(PROTOTXT / "resnet50_ferplus_deploy.prototxt"), str(he_weights),
               phase="test")
    for name in ("conv1", "bn_conv1", "scale2a_branch1", "res4f_branch2c", "bn5c_branch2b"):
        for g, w in zip(got.params[name], want.params[name]):
            # tolerance 0: the blobs are copied, not computed
            np.testing.assert_array_equal(np.asarray(g.data), np.asarray(w.data))
    assert "classifier" not in [lp.name for lp in read_caffemodel(path).layer]


def test_weights_errors_name_the_file_and_layers(he_weights, tmp_path):
    with pytest.raises(ReproductionError, match="nowhere.caffemodel: no such weights file"):
        L.prepare_init_weights(tmp_path / "nowhere.caffemodel", tmp_path)
    cnnd = tmp_path / "cnnd.caffemodel"
    Net(str(PROTOTXT / "cnnd_deploy.prototxt"), phase="test").save(str(cnnd))
    with pytest.raises(ReproductionError, match=r"cnnd.caffemodel: not a ResNet-50 .*lacks "
                                                r"158 of its 159 layers: bn_conv1, scale_conv1"):
        L.prepare_init_weights(cnnd, tmp_path)
    net = read_caffemodel(str(he_weights))
    keep = [lp for lp in net.layer if lp.name != "bn3b_branch2a"]
    del net.layer[:]
    net.layer.extend(keep)
    partial = tmp_path / "partial.caffemodel"
    write_caffemodel(net, str(partial))
    with pytest.raises(ReproductionError, match=r"'he' layout but lacks 1 of its 159 layers: "
                                                r"bn3b_branch2a"):
        L.prepare_init_weights(partial, tmp_path)
    net = read_caffemodel(str(he_weights))
    for lp in net.layer:
        if lp.name == "res2a_branch2b":
            lp.blobs[0].shape.dim[:] = [64, 64, 1, 9]
    wrong = tmp_path / "wrong.caffemodel"
    write_caffemodel(net, str(wrong))
    with pytest.raises(ReproductionError, match=r"(?s)wrong.caffemodel: its layers do not fit "
                                                r"ResNet-50.*res2a_branch2b.*64x64x1x9"):
        L.prepare_init_weights(wrong, tmp_path)


def test_zoo_key_not_fetched_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("RLQ_WEIGHTS_DIR", str(tmp_path / "weights"))
    with pytest.raises(ReproductionError, match="python -m lq_models fetch resnet50-imagenet"):
        PR.resolve_init("resnet50-imagenet", tmp_path)


def test_inputs_are_the_test_phase_data_layers(tmp_path):
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)
    listing = PR.write_image_list(tmp_path, faces, [0, 1, 2], "faces")
    mean = PR.MEAN_BGR["vggface2"]
    param = caffe_pb2.NetParameter(name="data_only")
    for lp in read_net(str(PROTOTXT / "resnet50_ferplus_train_val.prototxt")).layer:
        if lp.type == "ImageData" and lp.include[0].phase == caffe_pb2.TEST:
            layer = param.layer.add()
            layer.CopyFrom(lp)
            layer.image_data_param.source = listing
            layer.image_data_param.batch_size = 3
            del layer.transform_param.mean_value[:]
            layer.transform_param.mean_value.extend(mean)
    want = np.asarray(Net(param, phase="test").forward()["data"])
    init = PR.StartingPoint("x", "x", "vggface2", "", mean)
    got = PR.inputs(faces, init)
    # tolerance 0: the same OpenCV reading and resize and the same Caffe transform
    np.testing.assert_array_equal(got, want)
    assert got.shape == (3, 3, 224, 224)


def test_init_weights_needs_ferplus_and_ferplus_its_files(tmp_path, he_weights):
    with pytest.raises(ReproductionError, match="--init-weights fine-tunes ResNet-50"):
        protocol.run(tmp_path / "o", init_weights=str(he_weights), log=lambda *a: None)
    with pytest.raises(ReproductionError, match=r"fer2013new.csv: no such file"):
        (tmp_path / "fer").mkdir()
        (tmp_path / "fer" / "fer2013.csv").write_text("emotion,pixels,Usage\n")
        protocol.run(tmp_path / "o", ferplus_dir=tmp_path / "fer",
                     init_weights=str(he_weights), log=lambda *a: None)


def _ferplus(folder):
    folder.mkdir()
    votes = [[0] * 10 for _ in range(14)]
    for i, v in enumerate(votes):
        v[i % 7] = 10
    _write_fer(folder, [("Training" if i < 7 else "PrivateTest", f"fer{i:07d}.png", v)
                        for i, v in enumerate(votes)])
    return folder


def _clips_with_faces(out, actors=3, emotions=(3, 5), frames=2):
    """RAVDESS-named (empty) clips of ``actors`` actors, one per emotion code, and their
    face crops already in ``out/work/faces`` (the step the detector would fill)."""
    rng = np.random.default_rng(0)
    root = out / "ravdess"
    (out / "work" / "faces").mkdir(parents=True)
    for a in range(1, actors + 1):
        (root / f"Actor_{a:02d}").mkdir(parents=True)
        for emotion in emotions:
            stem = f"02-01-{emotion:02d}-01-01-01-{a:02d}"
            (root / f"Actor_{a:02d}" / f"{stem}.mp4").write_bytes(b"")
            arrays = {}
            for res in F.RESOLUTIONS:
                arrays[f"crops_{res}"] = rng.integers(0, 256, (frames, 48, 48), dtype=np.uint8)
                arrays[f"found_{res}"] = np.ones(frames, bool)
            np.savez(out / "work" / "faces" / f"{stem}.npz", **arrays)
    return root


# 9-25 s on 2 cores (a real ResNet-50 trained one iteration): in the slow pass, which CI runs
@pytest.mark.slow
def test_classify_wiring_with_resnet50(tmp_path, monkeypatch, he_weights):
    """The wiring, shrunk (3 clips of 1 frame, 1 iteration, the report stubbed): FER+'s faces
    as images for ResNet-50, its pool5 features and 8 class scores into mean, mode and the
    CNN-LSTM, FER+'s test faces through it for Table 1."""
    from reproduction.classification import report
    seen = {}

    def fake_write(out, test, faces, outputs, pred, info, classes, perframe_test=None):
        seen.update(outputs=outputs, pred=pred, info=info, perframe_test=perframe_test)
        return dict(summary=os.path.join(out, "summary.md"), files=[], printout="", verdicts=[],
                    accuracy={})

    monkeypatch.setattr(report, "write", fake_write)
    monkeypatch.setitem(protocol.SCHEDULES, "tiny", TINY)
    out = tmp_path / "out"
    root = _clips_with_faces(out, emotions=(3,), frames=1)
    protocol.run(out, root, schedule="tiny", folds=3, progress=False, log=lambda *a: None,
                 ferplus_dir=_ferplus(tmp_path / "ferplus"), init_weights=str(he_weights))
    work = out / "work"
    assert (work / "perframe_resnet50" / "resnet50_ferplus_iter_1.caffemodel").is_file()
    assert (work / "lstm_resnet50" / "emotion_lstm_iter_2.caffemodel").is_file()
    listing = (work / "perframe_resnet50" / "train_images.txt").read_text().splitlines()
    assert len(listing) == 7 and listing[0].endswith(".png 0")   # FER+ neutral -> neutral
    assert listing[1].endswith(".png 2")                         # FER+ happiness -> happy
    prob, feat = seen["outputs"][("02-01-03-01-01-01-01", "144p")]
    assert feat.shape == (1, 2048) and prob.shape == (1, 8)     # pool5; 8 RAVDESS classes
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-5)  # a softmax, float32 sums
    assert set(seen["pred"]) == {"mean", "mode", "lstm"}
    assert len(seen["pred"]["lstm"][("720p", 5)]) == 1          # the test actor's one clip
    true, predicted, names = seen["perframe_test"]
    assert len(true) == len(predicted) == 7 and "calm" not in names
    assert seen["info"]["init"]["layout"] == "he"
    assert json.loads((work / "perframe_resnet50" / "init.json").read_text())["sha256"] == \
        seen["info"]["init"]["sha256"]


@pytest.mark.slow
def test_classify_with_resnet50_from_vggface2_layout(tmp_path, monkeypatch, vggface2_weights,
                                                     he_weights):
    """The wiring: ResNet-50 fine-tuned (1 iteration) from VGGFace2-named weights, pool5
    features into the CNN-LSTM, every table written, resumed, another start refused."""
    monkeypatch.setitem(protocol.SCHEDULES, "tiny", TINY)
    out = tmp_path / "out"
    root = _clips_with_faces(out)
    fer = _ferplus(tmp_path / "ferplus")
    quiet = dict(schedule="tiny", folds=3, progress=False, log=lambda *a: None, ferplus_dir=fer)
    result = protocol.run(out, root, init_weights=str(vggface2_weights), **quiet)
    for name in ("accuracy_lstm.md", "confusion_mean.csv", "table1_perframe.md", "summary.md"):
        assert (out / name).is_file(), name
    work = out / "work"
    assert (work / "perframe_resnet50" / "resnet50_ferplus_iter_1.caffemodel").is_file()
    assert (work / "lstm_resnet50" / "emotion_lstm_iter_2.caffemodel").is_file()
    listing = (work / "perframe_resnet50" / "train_images.txt").read_text().splitlines()
    assert len(listing) == 7 and listing[0].endswith(".png 0")   # FER+ neutral -> neutral
    with np.load(work / "outputs_resnet50.npz") as z:
        assert z["feat"].shape == (6 * 3 * 2, 2048)               # pool5 of every face
        assert z["prob"].shape == (6 * 3 * 2, 8)
    kept = json.loads((work / "perframe_resnet50" / "init.json").read_text())
    assert kept["layout"] == "vggface2"
    run = json.loads((out / "run.json").read_text())["info"]
    assert run["perframe_net"].startswith("ResNet-50 fine-tuned on FER+ from")
    assert "FER+ test faces" in (out / "table1_perframe.md").read_text()
    again = protocol.run(out, root, init_weights=str(vggface2_weights), **quiet)
    assert again["accuracy"] == result["accuracy"]                # the kept nets, same figures
    assert again["timings"]["per-frame net"]["cpu_s"] < result["timings"]["per-frame net"][
        "cpu_s"]
    with pytest.raises(ReproductionError, match="was started from .*resnet50_ft.caffemodel"):
        protocol.run(out, root, init_weights=str(he_weights), **quiet)


@pytest.mark.slow
def test_classify_end_to_end_resnet50_on_sample_clips(tmp_path, monkeypatch, he_weights):
    """The whole command on drawn RAVDESS-named clips (faces detected) with ImageNet-named
    weights: 2 iterations of ResNet-50, then mean, mode and CNN-LSTM over pool5."""
    monkeypatch.setitem(protocol.SCHEDULES, "tiny", protocol.Schedule("tiny", 2, 2, 2, 4, 8))
    out = tmp_path / "out"
    fer = _ferplus(tmp_path / "ferplus")
    result = protocol.run(out, schedule="tiny", actors=3, frames=6, folds=3, progress=False,
                          log=lambda *a: None, ferplus_dir=fer, init_weights=str(he_weights))
    assert os.path.isfile(out / "work" / "perframe_resnet50" /
                          "resnet50_ferplus_iter_2.caffemodel")
    with np.load(out / "work" / "outputs_resnet50.npz") as z:
        assert z["feat"].shape[1] == 2048
    lines = (out / "confusion_lstm.csv").read_text().splitlines()
    assert sum(int(v) for ln in lines[1:] for v in ln.split(",")[1:]) == 15   # 1 test actor
    assert any("0.26-0.33" in v["claim"] and v["status"] != "not testable"
               for v in result["verdicts"])


def test_table1_verdict_against_the_seeds_starting_point():
    from reproduction.classification import report
    from reproduction.statistics import Resampler
    rs = Resampler(10, unit="test clips", seed=0)
    fy = np.arange(1000) % 7
    right = np.arange(1000) < 780                        # 0.78 right: the seed's from ImageNet
    fp = np.where(right, fy, (fy + 1) % 7)
    he = report._perframe_verdict(rs, (fy, fp, None), "he")
    assert he.status == "supported" and "0.78 (the seed's from ImageNet)" in he.evidence
    face = report._perframe_verdict(rs, (fy, fp, None), "vggface2")
    assert face.status == "contradicted"                 # 0.78 against the face start's 0.86
    assert report._perframe_verdict(rs, (fy, fp, None), None).status == "not testable"
    assert report._perframe_verdict(rs, None, None).status == "not testable"
