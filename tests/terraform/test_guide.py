"""terraform/README.md's deployment guide, followed as a new operator would: every command that
needs no AWS account runs here, from the repository's root and from another directory, and every
path and section the guide and the variables name exists.

Nothing is downloaded: Packer's builders are built into Debian's packer (1.6.6), and Terraform's
provider comes from the mirror of terraform/ci.tfrc.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_terraform import PACKER, REPO, TF_DIR, _checkout_for_packer, _run, _terraform, _tf_env

README = TF_DIR / "README.md"


def _guide_step(n: int) -> str:
    """The text of step `n` of the deployment guide."""
    guide = README.read_text().split("## Deployment guide", 1)[1].split("\n### ", 1)[0]
    steps = re.split(r"^(\d+)\. ", guide, flags=re.M)
    return dict(zip(steps[1::2], steps[2::2]))[str(n)]


def _sh_blocks(text: str) -> list[str]:
    """The commands of the ```sh blocks of `text`, continuation lines joined, comments dropped."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines = [ln.strip() for ln in block.replace("\\\n", " ").splitlines()]
        out += [re.sub(r"\s+#.*$", "", ln) for ln in lines if ln and not ln.startswith("#")]
    return out


def test_guide_packer_templates_validate_from_the_root_and_from_elsewhere(tmp_path):
    """Steps 2 and 3: `packer build packer/mesos-deb` and `packer build packer` from the root
    (or any directory): every file a template names is found from the template's own directory.
    `packer validate` checks each of them (scripts, uploads), and that the .deb of step 2 is
    where step 3 looks for it by default."""
    assert PACKER, "packer is not installed (scripts/setup.sh installs Debian's)"
    for step, template in ((2, "packer/mesos-deb"), (3, "packer")):
        cmds = _sh_blocks(_guide_step(step))
        assert f"packer init {template}" in cmds and f"packer build {template}" in cmds, cmds
    for text in (
        (REPO / "packer/plugins.pkr.hcl").read_text(), (REPO / "packer/mesos-deb/plugins.pkr.hcl").read_text(),
    ):
        assert "required_plugins" in text and 'required_version = ">= 1.10.0"' in text
    assert 'source  = "github.com/hashicorp/amazon"' in (REPO / "packer/plugins.pkr.hcl").read_text()
    assert 'source  = "github.com/hashicorp/docker"' in (REPO / "packer/mesos-deb/plugins.pkr.hcl").read_text()

    root = _checkout_for_packer(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, CHECKPOINT_DISABLE="1", PACKER_CACHE_DIR=str(tmp_path / "cache"))
    binary = tmp_path / "mesos-boot"
    binary.write_text("#!/bin/sh\n")
    deb_dir = root / "packer/mesos-deb/out"
    for cwd, prefix in ((root, ""), (elsewhere, f"{root}/")):
        where = "the root" if cwd == root else "another directory"
        proc = subprocess.run([PACKER, "validate", f"{prefix}packer/mesos-deb"], cwd=cwd, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"from {where}: packer validate packer/mesos-deb:\n{proc.stdout}{proc.stderr}"
        # Step 3 with the defaults: no .deb yet, so validation stops, naming step 2's output path.
        proc = subprocess.run([PACKER, "validate", "-var", f"mesos_boot_binary={binary}", f"{prefix}packer"],
                              cwd=cwd, env=env, capture_output=True, text=True)
        out = " ".join((proc.stdout + proc.stderr).split())  # packer wraps its messages
        assert proc.returncode != 0 and f"Bad source '{prefix}packer/mesos-deb/out/mesos_1.11.0-1_amd64.deb'" in out, (
            f"from {where}:\n{out}")
        # With step 2's output in place, step 3 validates with its defaults' .deb.
        deb_dir.mkdir(parents=True, exist_ok=True)
        try:
            (deb_dir / "mesos_1.11.0-1_amd64.deb").write_text("placeholder\n")
            (deb_dir / "mesos_1.11.0-1_amd64.deb.sha256").write_text(f"{'0' * 64}  mesos_1.11.0-1_amd64.deb\n")
            proc = subprocess.run([PACKER, "validate", "-var", f"mesos_boot_binary={binary}", f"{prefix}packer"],
                                  cwd=cwd, env=env, capture_output=True, text=True)
            assert proc.returncode == 0, f"from {where}: packer validate packer:\n{proc.stdout}{proc.stderr}"
        finally:
            if root == REPO:
                shutil.rmtree(deb_dir)
            else:
                shutil.rmtree(deb_dir, ignore_errors=True)


def test_guide_build_deb_refuses_another_architecture(tmp_path):
    """Step 2 on an arm64 machine: the build script stops before it builds anything that would
    be labelled amd64."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dpkg").write_text("#!/bin/sh\n[ \"$1\" = --print-architecture ] && echo arm64\n")
    (fake / "apt-get").write_text("#!/bin/sh\necho apt-get must not run >&2; exit 99\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    proc = subprocess.run(["sh", "-eu", str(REPO / "packer/mesos-deb/build-deb.sh")], capture_output=True, text=True,
                          env=dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", MESOS_VERSION="1.11.0"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "this container is arm64, the AMI needs amd64" in proc.stderr
    source = (REPO / "packer/mesos-deb/mesos-deb.pkr.hcl").read_text()
    assert '"--platform=linux/amd64"' in source


def test_guide_copied_sample_initialises_elsewhere(tmp_path):
    """Step 4: the guide's copy of the sample into an infrastructure repository, done literally
    from a checkout, gives a configuration that initialises and validates there."""
    cmds = [c for c in _sh_blocks(_guide_step(4)) if c.startswith(("mkdir", "cp"))]
    assert cmds, "step 4 shows no copy command"
    checkout = tmp_path / "checkout"
    shutil.copytree(TF_DIR, checkout / "terraform", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    for c in cmds:
        subprocess.run(["bash", "-euo", "pipefail", "-c", c], cwd=checkout, check=True)
    infra = tmp_path / "infra/sample"
    assert (infra / "main.tf").exists(), sorted(p.name for p in tmp_path.iterdir())
    tf, env = _terraform(), _tf_env(tmp_path)
    _run([tf, "init", "-backend=false", "-input=false", "-no-color"], infra, env)
    _run([tf, "validate", "-no-color"], infra, env)


def test_guide_zip_path_is_where_lambda_zip_writes_it():
    """Step 5's `autoscaler_zip_path` (the guide's command, run from the root, and the example
    tfvars, relative to sample/) is the zip `scripts/lambda-zip.sh` writes."""
    zip_path = REPO / "target/lambda/mesos-scale.zip"
    assert "out=${1:-$dir/lambda/mesos-scale.zip}" in (REPO / "scripts/lambda-zip.sh").read_text()
    applies = [c for c in _sh_blocks(_guide_step(5)) if " apply " in f" {c} "]
    assert applies, "step 5 shows no apply"
    for cmd in applies:
        m = re.search(r"-var autoscaler_zip_path=(\S+)", cmd)
        assert m, cmd
        chdir = re.search(r"-chdir=(\S+)", cmd)
        cwd = REPO / chdir.group(1) if chdir else REPO
        path = m.group(1).replace("$PWD", str(REPO))  # $PWD: the shell's, the root
        assert (cwd / path).resolve() == zip_path, f"{cmd}: {path} from {cwd} is not {zip_path}"
    example = (TF_DIR / "sample/terraform.tfvars.example").read_text()
    rel = re.search(r'autoscaler_zip_path\s*=\s*"([^"]+)"', example).group(1)
    assert (TF_DIR / "sample" / rel).resolve() == zip_path, rel


def _headings(md: Path) -> set[str]:
    return {h.strip().strip("`") for h in re.findall(r"^#+ (.+)$", md.read_text(), re.M)}


def test_every_named_readme_section_exists():
    """Variables, templates and the guide name README sections (`README.md, "Section"`): each
    must exist in that README."""
    files = [*TF_DIR.rglob("*.tf"), *REPO.joinpath("packer").rglob("*.hcl"), *TF_DIR.rglob("*.md")]
    files = [f for f in files if ".terraform" not in f.parts]
    missing = []
    for f in files:
        for readme, section in re.findall(r'([\w./-]*README\.md)[,:]?\s*\(?\\?"([^"\\]+)\\?"', f.read_text()):
            if readme in ("README.md", "the repository's README.md"):
                candidates = [REPO / "README.md"]
            else:
                candidates = [REPO / readme, f.parent / readme]
            target = next((c for c in candidates if c.exists()), None)
            if target is None or not any(h.startswith(section.strip()) for h in _headings(target)):
                missing.append(f"{f.relative_to(REPO)}: {readme}, \"{section}\"")
    assert missing == [], "sections that do not exist:\n" + "\n".join(missing)


def test_ami_zookeeper_release_is_pinned(tmp_path):
    """The AMI's ZooKeeper is Apache's binary release (3.9.4 by default), installed by the same
    script the local image runs: without a SHA-512 pin, or with one the tarball does not match,
    the script stops before it installs anything. (The local image takes Debian's package.)"""
    variables = (REPO / "packer/variables.pkr.hcl").read_text()
    assert "apache-zookeeper-3.9.4-bin.tar.gz" in variables
    tarball = tmp_path / "apache-zookeeper-3.9.4-bin.tar.gz"
    tarball.write_bytes(b"not really a tarball")
    script = REPO / "packer/scripts/zookeeper.sh"
    env = dict(os.environ, ZOOKEEPER_PACKAGE="zookeeper", ZOOKEEPER_RELEASE_URL=f"file://{tarball}")
    proc = subprocess.run(["sh", "-eu", str(script)], env=dict(env, ZOOKEEPER_RELEASE_SHA512=""), capture_output=True, text=True)
    assert proc.returncode == 1 and "zookeeper_release_sha512 must be the 128-hex-digit SHA-512" in proc.stderr, proc.stderr
    proc = subprocess.run(["sh", "-eu", str(script)], env=dict(env, ZOOKEEPER_RELEASE_SHA512="0" * 128), capture_output=True, text=True)
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not Path("/opt/zookeeper").exists() or Path("/opt/zookeeper").resolve() != Path("/opt/apache-zookeeper-3.9.4-bin")
    local = (REPO / "packer/local-image.sh").read_text()
    assert 'ZOOKEEPER_RELEASE_URL= sh -eu "/tmp/$s"' in local


def test_ssm_agent_is_pinned_or_absent(tmp_path):
    """operator_access = "ssm" needs the SSM agent in the AMI (Debian's AMIs lack it): the
    image script installs AWS's .deb only against a pinned SHA-256, and without a URL (the local
    image) says the image has none."""
    script = REPO / "packer/scripts/ssm-agent.sh"
    assert "ssm-agent.sh" in (REPO / "packer/mesos-boot.pkr.hcl").read_text()
    assert "ssm-agent.sh" in (REPO / "packer/local-image.sh").read_text()
    proc = subprocess.run(["sh", "-eu", str(script)], env=dict(os.environ, SSM_AGENT_DEB_URL=""), capture_output=True, text=True)
    assert proc.returncode == 0 and "this image has no SSM agent" in proc.stdout, proc.stdout + proc.stderr
    deb = tmp_path / "amazon-ssm-agent.deb"
    deb.write_bytes(b"not a deb")
    env = dict(os.environ, SSM_AGENT_DEB_URL=f"file://{deb}")
    proc = subprocess.run(["sh", "-eu", str(script)], env=dict(env, SSM_AGENT_DEB_SHA256=""), capture_output=True, text=True)
    assert proc.returncode == 1 and "ssm_agent_deb_sha256 must be the 64-hex-digit SHA-256" in proc.stderr, proc.stderr
    proc = subprocess.run(["sh", "-eu", str(script)], env=dict(env, SSM_AGENT_DEB_SHA256="0" * 64), capture_output=True, text=True)
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
