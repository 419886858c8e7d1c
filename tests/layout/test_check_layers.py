"""scripts/check-layers.py: bootstrap/src imports only downward and has no import circle.

The real tree must pass; a copy of it with one upward import, one use of the pipeline from
`serve`, or one circle between two files of a folder must fail, naming the file.
"""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check-layers.py"
SRC = ROOT / "bootstrap" / "src"


def check(src):
    return subprocess.run(
        [sys.executable, str(CHECK), str(src)], capture_output=True, text=True, check=False
    )


def tree(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy)
    return copy


def add_line(path, line):
    text = path.read_text()
    path.write_text(line + "\n" + text)


def test_the_tree_imports_only_downward():
    r = check(SRC)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every import goes downward, no circle" in r.stdout


def test_an_upward_import_fails_naming_the_file(tmp_path):
    src = tree(tmp_path)
    add_line(src / "zk" / "peer.rs", "use crate::membership::register::Registrar;")
    r = check(src)
    assert r.returncode == 1
    assert "zk/peer.rs: uses crate::membership::register::Registrar" in r.stdout
    assert "layer 8 `membership` is not below layer 5 `zk`" in r.stdout


def test_a_grouped_upward_import_fails(tmp_path):
    src = tree(tmp_path)
    add_line(src / "store" / "lease.rs", "use crate::{cloud::LazySdk, node::paths};")
    r = check(src)
    assert r.returncode == 1
    assert "store/lease.rs: uses crate::node" in r.stdout
    assert "crate::cloud" not in r.stdout


def test_only_cmd_may_use_the_pipeline(tmp_path):
    src = tree(tmp_path)
    add_line(src / "serve" / "backup.rs", "use crate::boot::Boot;")
    r = check(src)
    assert r.returncode == 1
    assert "serve/backup.rs: uses crate::boot::Boot: only `cmd` may use `boot`" in r.stdout


def test_a_circle_inside_a_folder_fails(tmp_path):
    src = tree(tmp_path)
    # serve/member_loop.rs uses serve/reconcile.rs; the way back closes a circle.
    assert "reconcile" in (src / "serve" / "member_loop.rs").read_text()
    add_line(src / "serve" / "reconcile.rs", "use super::member_loop::*;")
    r = check(src)
    assert r.returncode == 1
    assert "import circle:" in r.stdout
    assert "serve::member_loop" in r.stdout and "serve::reconcile" in r.stdout


def test_tests_comments_and_strings_may_name_anything(tmp_path):
    src = tree(tmp_path)
    path = src / "zk" / "secret.rs"
    path.write_text(
        path.read_text()
        + '\n// crate::boot::Boot in a comment\nconst _S: &str = "crate::serve::Api";\n'
        + "#[cfg(test)]\nmod layering_probe {\n    use crate::boot::Boot;\n}\n"
    )
    r = check(src)
    assert r.returncode == 0, r.stdout


def test_a_folder_in_no_layer_fails(tmp_path):
    src = tree(tmp_path)
    (src / "extra").mkdir()
    (src / "extra" / "mod.rs").write_text("//! A new folder.\n")
    r = check(src)
    assert r.returncode == 1
    assert "folder `extra` is in no layer" in r.stdout
