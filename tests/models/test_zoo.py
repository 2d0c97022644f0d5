"""Model zoo: entries and their data, architecture detection, identify, register, check."""
import csv
import json

import pytest

import caffe_compat
import lq_models
from caffe_compat.net.core import load_net_param
from caffe_compat.net.signature import (IncompatibleWeightsError, compare_signatures,
                                    layer_signature, shapes_match)
from lq_models.__main__ import main as models_main
from tests.conftest import REPO, fixture_path

REF = ("caffe-reference",)
S = (3, 4, 6, 8, 12, 16)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "models.json"
    monkeypatch.setenv(lq_models.ENV_VAR, str(path))
    return path


@pytest.fixture(scope="module")
def filler_cnnd(tmp_path_factory):
    """A 96x96 CNN+D caffemodel with Caffe filler weights (no reference data needed)."""
    path = tmp_path_factory.mktemp("w") / "cnnd.caffemodel"
    caffe_compat.Net(str(lq_models.get("hr").deploy_path), phase="test", seed=3).save(path)
    return path


def test_one_entry_per_model_of_the_paper():
    keys = lq_models.keys()
    expected = ([f"srfcn-{s}" for s in S] + ["hr"] + [f"lr-{s}" for s in S]
                + [f"nonjoint-{s}" for s in S] + [f"joint-{s}" for s in S] + ["joint-oa"])
    assert keys == expected
    # every Table 1 row belongs to exactly one entry (Joint-OA: one model, six rows)
    rows = [(r["s"], r["method"]) for r in lq_models.paper_table()["rows"]]
    owned = [k for e in lq_models.entries() for k in e.table1]
    assert sorted(owned, key=str) == sorted(rows, key=str)
    assert lq_models.get("joint-oa").table1 == tuple((s, "Joint-OA") for s in S)
    assert lq_models.get("HR").paper_rows()[0]["method"] == "HR"


def test_paper_table_is_the_published_one_with_citation():
    table = lq_models.paper_table()
    assert "1709.03126" in lq_models.paper_citation() and "Cheng" in lq_models.paper_citation()
    with open(fixture_path("paper", "table1.csv"), newline="") as f:
        published = [(None if r["s"] == "-" else int(r["s"]), r["method"], float(r["rmse"]),
                      float(r["cc"]), float(r["ccc"])) for r in csv.DictReader(f)]
    ours = [(r["s"], r["method"], r["rmse"], r["cc"], r["ccc"]) for r in table["rows"]]
    # tolerance 0: the values are copied decimals, parsed by the same float()
    assert ours == published


def test_zoo_uses_the_repository_definitions():
    for path in sorted((REPO / "prototxt").glob("*.prototxt")):
        assert lq_models.prototxt_path(path.name).resolve() == path.resolve()


def test_entry_definitions_are_consistent():
    for e in lq_models.entries():
        for p in (e.deploy_path, e.train_val_path, e.solver_path):
            assert p.is_file()
        net = caffe_compat.Net(str(e.deploy_path), phase="test", seed=1)
        # the recorded signature is the deploy net's own
        problems, ignored = compare_signatures(e.signature, layer_signature(net))
        assert problems == [] and ignored == []
        conv_lr = e.train_lr_mults["conv1"][0]
        if e.init["source"]:
            src = lq_models.get(e.init["source"])
            assert src.architecture == "srfcn"
            assert conv_lr == pytest.approx(e.init["lr_mult"], abs=1e-7)  # float32 0.1 in file
            assert e.init["layers"] == ["conv1", "conv2", "conv3"]
        else:
            assert conv_lr == 1.0
    assert lq_models.get("joint-4").init["source"] == "srfcn-4"
    assert lq_models.get("nonjoint-8").train_lr_mults["conv2"] == (0.0, 0.0)
    assert lq_models.get("joint-oa").data["factors"] == [3, 4, 6]


def test_cnnd_input_arithmetic_matches_caffe_pooling():
    npm = load_net_param(str(lq_models.get("hr").deploy_path))
    with pytest.raises(caffe_compat.NetError, match="conv3"):
        caffe_compat.Net(lq_models.set_input_size(npm, 28, 28), phase="test")
    assert lq_models.cnnd_pool3_size(28) == 0
    for n in (29, 42, 44, 45, 92, 93, 96, 108, 109):
        net = caffe_compat.Net(lq_models.set_input_size(npm, n, n), phase="test", seed=0)
        # tolerance 0: integer sizes, Caffe's ceil-mode pooling
        assert net.blob_shape("pool3")[2] == lq_models.cnnd_pool3_size(n)
    assert lq_models.cnnd_input_range(5) == (93, 108)
    assert lq_models.cnnd_input_range(1) == (29, 44)


def test_describe_architecture_filler_and_unknown(filler_cnnd):
    from caffe_compat.io.caffemodel import read_caffemodel
    text = lq_models.describe_architecture(read_caffemodel(filler_cnnd))
    assert text.startswith("CNN+D regressor, 96x96 input")
    sr = caffe_compat.Net(str(lq_models.get("srfcn-3").deploy_path), phase="test")
    assert lq_models.describe_architecture(sr.to_proto()).startswith("SR-FCN")
    other = caffe_compat.Net(
        'layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 '
        'dim: 8 dim: 8 } } }\nlayer { name: "c" type: "Convolution" bottom: "data" top: "c" '
        'convolution_param { num_output: 2 kernel_size: 3 } }', phase="test")
    assert lq_models.describe_architecture(other.to_proto()) is None


def test_identify_real_caffe_96(registry):
    path = fixture_path(*REF, "forward", "deploy_cnnd", "init.caffemodel")
    arch, candidates = lq_models.identify(path)
    assert arch.startswith("CNN+D regressor, 96x96 input")
    assert [e.key for e in candidates][:7] == ["hr"] + [f"lr-{s}" for s in S]
    assert {e.architecture for e in candidates} == {"cnnd"} and len(candidates) == 20


def test_identify_real_caffe_42_snapshot():
    path = fixture_path(*REF, "forward", "cnnd_trainval_test", "init.caffemodel")
    ident = lq_models.identify(path)
    assert ident.family == "cnnd" and ident.arch.pool3 == 1
    lo, hi = ident.arch.input_range
    assert lo <= 42 <= hi and ident.arch.fits_input(42, 42) and not ident.arch.fits_input(96, 96)
    assert "29x29 to 44x44" in ident.architecture
    assert ident.candidates == ()          # the paper's models all take 96x96
    joint = lq_models.identify(fixture_path(*REF, "weights", "vlqr_42.caffemodel"))
    assert any("joint training net" in n for n in joint.notes)


def test_identify_srfcn():
    path = fixture_path(*REF, "forward", "deploy_srcnn", "init.caffemodel")
    arch, candidates = lq_models.identify(path)
    assert arch.startswith("SR-FCN")
    assert [e.key for e in candidates] == [f"srfcn-{s}" for s in S]


def test_register_names_the_exact_entry(registry, filler_cnnd, tmp_path):
    rec = lq_models.register(filler_cnnd, "joint-6")
    assert rec["key"] == "joint-6" and registry.is_file()
    ident = lq_models.identify(filler_cnnd)
    assert ident.exact and [e.key for e in ident.candidates] == ["joint-6"]
    data = json.loads(registry.read_text())
    assert data["files"][ident.sha256]["key"] == "joint-6"
    with pytest.raises(lq_models.ZooError, match="already registered as 'joint-6'"):
        lq_models.register(filler_cnnd, "hr")
    lq_models.register(filler_cnnd, "hr", replace=True)
    assert lq_models.identify(filler_cnnd).candidates[0].key == "hr"
    # a file that does not fit the entry is refused and the registry is left as it was
    before = registry.read_bytes()
    sr = tmp_path / "sr.caffemodel"
    caffe_compat.Net(str(lq_models.get("srfcn-3").deploy_path), phase="test").save(sr)
    with pytest.raises(IncompatibleWeightsError, match="fc4"):
        lq_models.register(sr, "hr")
    assert registry.read_bytes() == before
    assert lq_models.unregister("hr") == [ident.sha256]
    assert not lq_models.identify(filler_cnnd).exact


def test_registry_location(monkeypatch, tmp_path):
    monkeypatch.delenv(lq_models.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert lq_models.registry_path() == tmp_path / "robust-lq-emotion" / "models.json"
    monkeypatch.setenv(lq_models.ENV_VAR, str(tmp_path / "x.json"))
    assert lq_models.registry_path() == tmp_path / "x.json"
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(lq_models.ZooError, match="x.json: not a model registry file"):
        lq_models.read_registry()


def test_check_compatible_lists_each_mismatch(tmp_path):
    deploy = str(lq_models.get("hr").deploy_path)
    snap = fixture_path(*REF, "forward", "cnnd_trainval_test", "init.caffemodel")
    with pytest.raises(IncompatibleWeightsError) as info:
        lq_models.check_compatible(deploy, snap)
    msg = str(info.value)
    assert str(snap) in msg and "layer 'fc4' blob 0" in msg and "300x256" in msg
    assert "300x6400" in msg and "29x29 to 44x44" in msg and len(info.value.problems) == 1
    sr = fixture_path(*REF, "forward", "deploy_srcnn", "init.caffemodel")
    with pytest.raises(IncompatibleWeightsError) as info:
        lq_models.check_compatible(deploy, sr)
    assert [p.split("'")[1] for p in info.value.problems] == ["fc4", "fc5"]
    assert lq_models.check_compatible(str(lq_models.get("srfcn-4").deploy_path), sr) == []
    # the 42x42 snapshot loads once the net's input is 42x42
    net = lq_models.load_net(snap, input_size=(42, 42))
    assert net.blob_shape("data") == (1, 1, 42, 42)


def test_shapes_match_legacy_blobs():
    assert shapes_match((300, 6400), (1, 1, 300, 6400))
    assert shapes_match((64,), (1, 1, 1, 64))
    assert not shapes_match((300, 6400), (300, 256))


def test_cli(registry, filler_cnnd, capsys):
    assert models_main(["list"]) == 0
    assert "joint-oa" in capsys.readouterr().out
    assert models_main(["register", str(filler_cnnd), "--as", "lr-4"]) == 0
    assert models_main(["identify", str(filler_cnnd)]) == 0
    out = capsys.readouterr().out
    assert "lr-4 (LR-4), registered" in out and "CNN+D regressor, 96x96 input" in out
    assert models_main(["show", "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'no-such-model'") and "Traceback" not in err
    assert models_main(["check", str(lq_models.get("srfcn-3").deploy_path), str(filler_cnnd)]) == 1
    assert "layer 'conv4'" in capsys.readouterr().err
    assert models_main(["identify", str(REPO / "prototxt" / "cnnd_deploy.prototxt")]) == 1
    assert "a text file" in capsys.readouterr().err


def test_register_refuses_a_file_saved_from_another_training_net(registry, filler_cnnd, tmp_path,
                                                                 capsys):
    """A snapshot of the joint net (conv lr_mult 0.1 stored in the file) named 'hr' is refused
    unless forced; lr_mult 1 (also every deploy net's) proves nothing."""
    from caffe_compat.io import caffemodel as cm
    net = cm.read_caffemodel(str(filler_cnnd))
    for lp in net.layer:
        if lp.type == "Convolution":
            lp.param[0].lr_mult, lp.param[1].lr_mult = 0.1, 0.2
    joint = tmp_path / "joint-oa.caffemodel"
    cm.write_caffemodel(net, str(joint))
    assert any("joint training net" in n for n in lq_models.identify(joint).notes)
    with pytest.raises(lq_models.ZooError, match=r"saved from the joint training net.*'hr'.*"
                                              r"--force") as err:
        lq_models.register(joint, "hr")
    assert "joint-oa" in str(err.value) and not registry.exists()
    assert models_main(["register", str(joint), "--as", "lr-3"]) == 1
    assert "--force" in capsys.readouterr().err and not registry.exists()
    assert lq_models.register(joint, "joint-oa")["key"] == "joint-oa"
    assert models_main(["register", str(joint), "--as", "hr", "--replace", "--force"]) == 0
    assert lq_models.identify(joint).candidates[0].key == "hr"
    # lr_mult 1 (the deploy net's) fits every CNN+D entry
    assert lq_models.register(filler_cnnd, "joint-6")["key"] == "joint-6"
