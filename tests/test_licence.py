"""The project's licence: LICENSE at the root is the Apache License 2.0 (the original paper
repository's licence too), and the package metadata declares it and ships the file."""
import email.parser
import subprocess
import sys

from tests.conftest import REPO


def test_licence_file_is_the_apache_2_text():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # the full text, not a notice pointing at it (the standard file is 201-202 lines)
    assert len(text.splitlines()) > 190


def test_package_metadata_declares_the_licence(tmp_path):
    """setup.py's metadata as a build writes it (PKG-INFO of ``setup.py egg_info``)."""
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)],
                   cwd=REPO, check=True, capture_output=True)
    (info,) = tmp_path.glob("*.egg-info")
    meta = email.parser.Parser().parsestr((info / "PKG-INFO").read_text(encoding="utf-8"))
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in meta.get_all("License-File")
    # and a source distribution carries the file
    assert "LICENSE" in (info / "SOURCES.txt").read_text().split()
    manifest = (REPO / "MANIFEST.in").read_text().splitlines()
    assert "include LICENSE" in manifest
