"""The vendored browser builds are the bytes VENDORED.md names, licences included."""

from __future__ import annotations

import hashlib
import re

from tests.helpers import REPO

VENDOR = REPO / "web" / "vendor"


def test_every_vendored_file_matches_its_listed_hash_and_has_its_licence():
    table = (VENDOR / "VENDORED.md").read_text()
    listed = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", table, re.MULTILINE))
    present = {
        str(p.relative_to(VENDOR))
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name != "VENDORED.md"
    }
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    for folder in {p.split("/")[0] for p in present}:
        assert (VENDOR / folder / "LICENSE").read_text().startswith(("MIT", "The MIT"))


def test_the_pages_load_nothing_from_outside_their_own_folder():
    for page in [REPO / "web" / "index.html", *(REPO / "web" / "js").rglob("*.js")]:
        text = page.read_text()
        assert not re.search(r"""(src|href|import)\s*[=(]?\s*["']https?://""", text), page
        assert not re.search(r"""from\s+["']https?://""", text), page
