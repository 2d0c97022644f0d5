"""The zoo's published starting points: their entries (URLs, published checksums and where
each comes from) and the fetch's verification, on local files only (no network)."""
import hashlib
import io
import json
import pathlib
import tarfile

import pytest

import lq_models
from lq_models import pretrained
from lq_models.__main__ import main as models_main

HEX_LENGTH = {"sha256": 64, "sha1": 40, "md5": 32}


def test_published_entries_are_well_formed():
    entries = {m.key: m for m in lq_models.published()}
    assert list(entries) == ["resnet50-imagenet", "resnet50-vggface2-ft",
                             "resnet50-vggface2-scratch"]
    for m in entries.values():
        assert m.layout in ("he", "vggface2") and len(m.mean_bgr) == 3
        assert "weights" in m.roles() and m.citation and m.page.startswith("https://")
        for f in m.files:
            assert f.urls and all(u.startswith(("https://", "http://")) for u in f.urls)
            for algorithm, digest in f.checksums.items():
                assert len(digest) == HEX_LENGTH[algorithm]
                int(digest, 16)
            # a checksum always says where it was published; none is without one
            assert bool(f.checksums) == bool(f.checksum_from)
    imagenet = entries["resnet50-imagenet"]
    files = {f.role: f for f in imagenet.files}
    assert set(files) == {"weights", "deploy", "mean"}
    # the SHA-1 OpenCV's and MXNet's download scripts give for ResNet-50-model.caffemodel
    assert files["weights"].checksums == {"sha1": "b7c79ccc21ad0479cddc0dd78b1d20c4d722908d"}
    assert files["weights"].name == "ResNet-50-model.caffemodel"
    assert files["mean"].name == "ResNet_mean.binaryproto"
    for key in ("resnet50-vggface2-ft", "resnet50-vggface2-scratch"):
        (archive,) = entries[key].files
        assert archive.checksums == {} and "no checksum" in entries[key].note
        assert archive.members["weights"].endswith(".caffemodel")


def _fake_zoo(monkeypatch, files, layout="he"):
    """Replace the zoo's published section with one entry 'local' of ``files``."""
    data = dict(pretrained._zoo_data())
    data["published"] = [dict(key="local", name="a local model", citation="none",
                              layout=layout, mean_bgr=[1, 2, 3], page="https://example.org",
                              files=files)]
    monkeypatch.setattr(pretrained, "_zoo_data", lambda: data)


def _file(tmp_path, name, payload):
    p = tmp_path / name
    p.write_bytes(payload)
    return p


def test_verify_each_published_algorithm(tmp_path):
    p = _file(tmp_path, "w.caffemodel", b"weights bytes")
    checks = {a: hashlib.new(a, b"weights bytes").hexdigest() for a in HEX_LENGTH}
    pretrained.verify(p, checks)
    with pytest.raises(lq_models.ZooError, match=r"w.caffemodel: sha1 is [0-9a-f]{40}, "
                                                 r"expected 0{40}"):
        pretrained.verify(p, {"sha1": "0" * 40})
    with pytest.raises(lq_models.ZooError, match="no checksum to verify it against"):
        pretrained.verify(p, {})


def test_fetch_downloads_checks_and_falls_back(tmp_path, monkeypatch):
    good = _file(tmp_path, "good.bin", b"the published file")
    bad = _file(tmp_path, "bad.bin", b"something else")
    sha1 = hashlib.sha1(b"the published file").hexdigest()
    _fake_zoo(monkeypatch, [dict(role="weights", name="m.caffemodel",
                                 urls=[bad.as_uri(), good.as_uri()], checksums={"sha1": sha1},
                                 checksum_from=["a test"])])
    logs = []
    paths = lq_models.fetch("local", folder=tmp_path / "cache", log=logs.append)
    assert paths == {"weights": tmp_path / "cache" / "local" / "m.caffemodel"}
    assert paths["weights"].read_bytes() == b"the published file"
    assert any("downloading " + bad.as_uri() in line for line in logs)
    assert lq_models.local_path("local", folder=tmp_path / "cache") == paths["weights"]
    paths["weights"].write_bytes(b"damaged")
    with pytest.raises(lq_models.ZooError, match=r"m.caffemodel: sha1 is"):
        lq_models.local_path("local", folder=tmp_path / "cache")


def test_fetch_refuses_a_file_no_url_gives(tmp_path, monkeypatch):
    bad = _file(tmp_path, "bad.bin", b"something else")
    _fake_zoo(monkeypatch, [dict(role="weights", name="m.caffemodel", urls=[bad.as_uri()],
                                 checksums={"md5": "0" * 32}, checksum_from=["a test"])])
    with pytest.raises(lq_models.ZooError, match=r"(?s)no URL gave m.caffemodel.*md5 is .*"
                                                 r"give it with --from"):
        lq_models.fetch("local", folder=tmp_path / "cache", log=lambda *a: None)
    assert not (tmp_path / "cache" / "local" / "m.caffemodel").exists()   # nothing half-kept
    with pytest.raises(lq_models.ZooError, match="not fetched yet; run `python -m lq_models "
                                                 "fetch local`"):
        lq_models.local_path("local", folder=tmp_path / "cache")


def _archive(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in (("model/m.caffemodel", b"net weights"),
                              ("model/m.prototxt", b"name: 'm'")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return _file(tmp_path, "m_caffe.tar.gz", buf.getvalue())


def test_archive_without_published_checksum_needs_the_users(tmp_path, monkeypatch):
    archive = _archive(tmp_path)
    _fake_zoo(monkeypatch, [dict(role="archive", name="m_caffe.tar.gz", urls=[archive.as_uri()],
                                 checksums={}, checksum_from=[],
                                 members={"weights": "m.caffemodel", "deploy": "m.prototxt"})],
              layout="vggface2")
    cache = tmp_path / "cache"
    with pytest.raises(lq_models.ZooError, match="no published checksum; give the sha256"):
        lq_models.fetch("local", folder=cache, source=archive, log=lambda *a: None)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(lq_models.ZooError, match="sha256 is"):
        lq_models.fetch("local", folder=cache, source=archive, sha256="1" * 64,
                        log=lambda *a: None)
    paths = lq_models.fetch("local", folder=cache, source=archive, sha256=digest,
                            log=lambda *a: None)
    assert paths["weights"].read_bytes() == b"net weights"
    assert paths["deploy"].read_bytes() == b"name: 'm'"
    record = json.loads((cache / "local" / "checksums.json").read_text())
    assert record == {"m_caffe.tar.gz": {"sha256": digest}}
    # a later fetch without --sha256 checks against what the archive was fetched with
    again = lq_models.fetch("local", folder=cache, log=lambda *a: None)
    assert again == paths


def test_fetch_command_with_a_local_file(tmp_path, monkeypatch, capsys):
    good = _file(tmp_path, "dl.caffemodel", b"by hand")
    _fake_zoo(monkeypatch, [dict(role="weights", name="m.caffemodel", urls=["https://x.invalid/m"],
                                 checksums={"sha1": hashlib.sha1(b"by hand").hexdigest()},
                                 checksum_from=["a test"])])
    monkeypatch.setenv(pretrained.ENV_DIR, str(tmp_path / "weights"))
    assert models_main(["fetch", "local", "--from", str(good)]) == 0
    assert f"weights: {tmp_path / 'weights' / 'local' / 'm.caffemodel'}" in capsys.readouterr().out
    assert models_main(["fetch", "nosuch"]) == 1
    assert "unknown published model 'nosuch'" in capsys.readouterr().err


def test_published_command_lists_checksums_and_sources(capsys):
    assert models_main(["published"]) == 0
    out = capsys.readouterr().out
    assert "b7c79ccc21ad0479cddc0dd78b1d20c4d722908d" in out
    assert "opencv/opencv_extra testdata/dnn/download_models.py" in out
    assert "resnet50_ft_caffe.tar.gz (none published)" in out


def test_published_command_says_what_was_fetched(tmp_path, monkeypatch, capsys):
    """The listing's last line names the folder `fetch` writes to and the models fetched
    there, 'none yet' before any fetch: the command itself fetches nothing."""
    good = _file(tmp_path, "good.bin", b"the published file")
    _fake_zoo(monkeypatch, [dict(role="weights", name="m.caffemodel", urls=[good.as_uri()],
                                 checksums={"sha1": hashlib.sha1(b"the published file")
                                            .hexdigest()}, checksum_from=["a test"])])
    folder = tmp_path / "weights"
    monkeypatch.setenv(pretrained.ENV_DIR, str(folder))
    head = (f"\n`python -m lq_models fetch KEY` downloads into {folder} (set "
            f"{pretrained.ENV_DIR} to use another folder); fetched there: ")
    assert models_main(["published"]) == 0
    out = capsys.readouterr().out
    assert out.endswith(head + "none yet.\n") and "Fetched into" not in out
    assert not folder.exists()
    lq_models.fetch("local", log=lambda *a: None)
    assert models_main(["published"]) == 0
    assert capsys.readouterr().out.endswith(head + "local.\n")


def test_weights_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(pretrained.ENV_DIR, str(tmp_path / "w"))
    assert lq_models.weights_dir() == pathlib.Path(tmp_path / "w")
    monkeypatch.delenv(pretrained.ENV_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert lq_models.weights_dir() == tmp_path / "c" / "robust-lq-emotion" / "weights"


def test_from_picks_the_file_of_its_name(tmp_path, monkeypatch):
    w = _file(tmp_path, "m.caffemodel", b"weights")
    mean = _file(tmp_path, "mean.binaryproto", b"mean")
    other = _file(tmp_path, "other.bin", b"weights")
    _fake_zoo(monkeypatch, [
        dict(role="weights", name="m.caffemodel", urls=["https://x.invalid/m"],
             checksums={"sha1": hashlib.sha1(b"weights").hexdigest()}, checksum_from=["t"]),
        dict(role="mean", name="mean.binaryproto", urls=["https://x.invalid/mean"],
             checksums={"sha1": hashlib.sha1(b"mean").hexdigest()}, checksum_from=["t"])])
    cache = tmp_path / "cache"
    assert list(lq_models.fetch("local", folder=cache, source=w, log=lambda *a: None)) == \
        ["weights"]
    assert list(lq_models.fetch("local", folder=cache, source=mean, log=lambda *a: None)) == \
        ["mean"]
    assert lq_models.local_path("local", "weights", cache).read_bytes() == b"weights"
    with pytest.raises(lq_models.ZooError, match="name the file as published, one of "
                                                 "m.caffemodel, mean.binaryproto"):
        lq_models.fetch("local", folder=cache, source=other, log=lambda *a: None)
