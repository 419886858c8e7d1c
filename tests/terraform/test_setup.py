"""scripts/setup.sh on a fresh machine: what it cannot install it checks first, with one clear
message each, and every tool the tests depend on is pinned."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from test_terraform import REPO


def _path_without(tmp_path: Path, *hidden: str) -> str:
    """A PATH with every program of this one but `hidden` (symlinks in one directory)."""
    d = tmp_path / "bin"
    d.mkdir()
    for entry in os.environ["PATH"].split(":"):
        p = Path(entry)
        if not p.is_dir():
            continue
        for prog in p.iterdir():
            if prog.name not in hidden and not (d / prog.name).exists() and os.access(prog, os.X_OK):
                (d / prog.name).symlink_to(prog)
    return str(d)


def test_setup_stops_with_one_message_when_readelf_is_missing(tmp_path):
    """The static-link check of the release binaries needs readelf (binutils): setup installs
    binutils with the other packages, and refuses to go on, naming it, if readelf is absent."""
    assert "binutils" in (REPO / "scripts/setup.sh").read_text()
    proc = subprocess.run([str(REPO / "scripts/setup.sh")], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PATH=_path_without(tmp_path, "readelf")))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "setup: MISSING readelf: Debian's binutils" in proc.stderr, proc.stderr
    assert "setup: installing" not in proc.stdout + proc.stderr and "creating .venv" not in proc.stdout


def test_every_test_tool_is_pinned():
    reqs = [ln.strip() for ln in (REPO / "scripts/requirements.txt").read_text().splitlines() if ln.strip()]
    assert reqs and all(re.match(r"^[A-Za-z0-9_.\[\]-]+==[0-9][0-9A-Za-z.]*$", r) for r in reqs), reqs
    for tool in ("pytest", "boto3", "moto[server]", "kazoo"):
        assert any(r.startswith(tool + "==") for r in reqs), tool
    setup = (REPO / "scripts/setup.sh").read_text()
    assert re.search(r"cargo install --locked --quiet cargo-fuzz --version [0-9.]+", setup)
    assert re.search(r"pip install -q checkov==[0-9.]+", setup)
