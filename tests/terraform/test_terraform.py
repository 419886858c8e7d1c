"""Checks of the infrastructure code in terraform/, packer/ and systemd/.

* `terraform fmt -check` and `terraform validate` of every module and of the sample;
* the sample applied to a moto server started here on a free 127.0.0.1 port, what it
  created read back with boto3, then destroyed and checked to leave nothing behind;
* least privilege for real: mesos-boot and mesos-scale run with exactly the applied roles'
  policies under moto's IAM enforcement (test_least_privilege_enforced);
* `packer fmt -check` / `packer validate` (when Debian's `packer` is installed);
* `systemd-analyze verify` of the units in systemd/.

Nothing is downloaded: providers come from the filesystem mirror named in terraform/ci.tfrc,
and no request leaves 127.0.0.1. A missing `terraform` or `moto_server` fails the suite.

Environment: TERRAFORM (path of terraform), MOTO_SERVER (path of moto_server, else
<repo>/.venv/bin/moto_server, else moto_server on PATH; its Python runs moto_iam.py),
MESOS_BOOT_BIN and MESOS_SCALE_BIN (the binaries, else <repo>/target/debug/; missing fails).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "terraform"
MODULES = sorted(p.name for p in (TF_DIR / "modules").iterdir() if (p / "versions.tf").exists())
# The longest names the sample's validation accepts: `<cluster>-mesos-master` is 32 characters
# (the load balancer limit), the bucket `<cluster>.<top_fqdn>` 63 (the S3 limit).
CLUSTER = "moto-longest-name19"
TOP_FQDN = "a-very-long-parent-domain-name.example.test"
DOMAIN = f"{CLUSTER}.{TOP_FQDN}"
REGION = "us-east-1"
ROLES = ("zookeeper", "master", "agent")
assert len(f"{CLUSTER}-mesos-master") == 32 and len(DOMAIN) == 63
SHARED_CONFIG_KEY = "exhibitor/exhibitor.properties"
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:mesos-alarms"
# The Mesos credentials the masters' mesos-boot creates beside the shared config (`<key>.<name>`),
# and who may read them: masters all (and create them), agents three, the autoscaler its own,
# ZooKeeper nodes none.
MESOS_CREDENTIALS = (
    "zk-mesos-master", "zk-mesos-agent", "mesos-agent", "mesos-agent-http", "mesos-scale", "mesos-operator",
    "mesos-framework",
)
CREDENTIAL_READERS = {
    "zookeeper": (),
    "master": MESOS_CREDENTIALS,
    "agent": ("zk-mesos-agent", "mesos-agent", "mesos-agent-http"),
    "autoscaler": ("mesos-scale",),
}


################################################################################
# Tools
################################################################################


def _terraform() -> str:
    path = os.environ.get("TERRAFORM") or shutil.which("terraform")
    if not path:
        pytest.fail(
            "\n\n*** terraform is NOT installed: the Terraform checks cannot run. ***\n"
            "The machine image should carry /usr/local/bin/terraform (1.11.x) and the\n"
            "hashicorp/aws provider mirror in /opt/tf-plugins; set TERRAFORM to use another.\n",
            pytrace=False,
        )
    return path


def _moto_server() -> str:
    candidates = [os.environ.get("MOTO_SERVER"), str(REPO / ".venv/bin/moto_server"), shutil.which("moto_server")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    pytest.fail(
        "\n\n*** moto_server NOT found (MOTO_SERVER, <repo>/.venv/bin/moto_server, PATH): "
        "the apply test cannot run. Install moto[server]. ***\n",
        pytrace=False,
    )


def _tf_env(tmp: Path) -> dict[str, str]:
    # No AWS_* of the machine (profiles, AWS_CA_BUNDLE, which breaks a reused provider) nor TF_*.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(TF_DIR / "ci.tfrc"),
        TF_IN_AUTOMATION="1",
        CHECKPOINT_DISABLE="1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` in {cwd} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n"
            f"--- stderr\n{proc.stderr[-6000:]}",
            pytrace=False,
        )
    return proc


class SharedProvider:
    """One hashicorp/aws provider process for every terraform command of the session.

    Each terraform command otherwise starts the 700 MB provider anew and loads its schema (5-10 s
    of CPU each, ~1 minute over the suite). The provider's debug mode serves it on a socket that
    terraform reattaches to (TF_REATTACH_PROVIDERS). The provider reads AWS credentials from its
    own environment, so it gets the test's. TF_TEST_NO_SHARED_PROVIDER=1 turns this off.
    """

    def __init__(self, binary: Path, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [str(binary), "-debug"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        self.reattach = None
        deadline = time.monotonic() + 60
        for line in self.proc.stdout:
            if "TF_REATTACH_PROVIDERS=" in line:
                self.reattach = line.split("TF_REATTACH_PROVIDERS=", 1)[1].strip().strip("'")
                break
            if time.monotonic() > deadline:
                break
        if not self.reattach:
            self.stop()
            pytest.fail(f"{binary} -debug printed no TF_REATTACH_PROVIDERS", pytrace=False)
        # keep draining its output so that it never blocks on a full pipe
        import threading

        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="session")
def tf_copy(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of terraform/ (init writes .terraform and lock files; the repo stays clean),
    and the environment of every terraform command."""
    tf = _terraform()
    tmp = tmp_path_factory.mktemp("tf")
    dst = tmp / "terraform"
    shutil.copytree(TF_DIR, dst, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"))
    env = _tf_env(tmp)
    shared = None
    if os.environ.get("TF_TEST_NO_SHARED_PROVIDER") != "1":
        _run([tf, "init", "-backend=false", "-input=false", "-no-color"], dst / "sample", env)
        (binary,) = (dst / "sample/.terraform/providers").glob("*/hashicorp/aws/*/*/terraform-provider-aws*")
        shared = SharedProvider(binary.resolve(), env)
        env = dict(env, TF_REATTACH_PROVIDERS=shared.reattach)
    try:
        yield dst, env
    finally:
        if shared:
            shared.stop()


################################################################################
# fmt / validate
################################################################################


def test_terraform_installed():
    tf = _terraform()
    out = subprocess.run([tf, "version", "-json"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["terraform_version"].startswith("1.")


def test_terraform_fmt():
    tf = _terraform()
    proc = subprocess.run([tf, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)], capture_output=True, text=True)
    assert proc.returncode == 0, f"terraform fmt -check found unformatted files:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("module", [f"modules/{m}" for m in MODULES] + ["sample"])
def test_terraform_validate(tf_copy, module):
    root, env = tf_copy
    tf = _terraform()
    _run([tf, "init", "-backend=false", "-input=false", "-no-color"], root / module, env)
    out = _run([tf, "validate", "-json", "-no-color"], root / module, env).stdout
    result = json.loads(out)
    assert result["valid"], result
    assert result["warning_count"] == 0, result["diagnostics"]


def test_docs_up_to_date():
    proc = subprocess.run([sys.executable, str(TF_DIR / "gen_docs.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_module_documented():
    """Each module has the conventional files and its README lists every input and output."""
    import re

    for m in MODULES:
        d = TF_DIR / "modules" / m
        for f in ("versions.tf", "variables.tf", "outputs.tf", "README.md"):
            assert (d / f).exists(), f"{d / f} is missing"
        readme = (d / "README.md").read_text()
        variables = (d / "variables.tf").read_text()
        for name in re.findall(r'^variable "([^"]+)"', variables, re.M):
            assert f"`{name}`" in readme, f"{m}/README.md does not document input {name}"
        for name in re.findall(r'^output "([^"]+)"', (d / "outputs.tf").read_text(), re.M):
            assert f"`{name}`" in readme, f"{m}/README.md does not document output {name}"
        # every variable has a description
        blocks = re.split(r'^variable "', variables, flags=re.M)[1:]
        for b in blocks:
            assert "description" in b.split("\n}\n")[0], f"{m}: variable {b.split(chr(34))[0]} has no description"


################################################################################
# apply / check / destroy against moto
################################################################################


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_command(binary: str) -> tuple[list[str], bool]:
    """How to start moto: moto_server's own Python running moto_iam.py next to this file
    (moto_server, plus the group ARN of the Auto Scaling calls for IAM enforcement; see there),
    else moto_server itself. The flag says whether moto_iam.py is used."""
    try:
        with open(binary, "rb") as f:
            first = f.readline(500).decode(errors="replace")
    except OSError:
        first = ""
    if first.startswith("#!") and "python" in first:
        return [*first[2:].split(), str(Path(__file__).with_name("moto_iam.py"))], True
    return [binary], False


class Moto:
    def __init__(self, binary: str, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")  # AWSLambdaVPCAccessExecutionRole etc.
        self.log = open(log, "w")
        cmd, self.group_resources = _moto_command(binary)
        self.proc = subprocess.Popen(
            [*cmd, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"moto_server did not start on {self.url}; see {log}", pytrace=False)
                time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def client(self, service: str, creds: dict | None = None):
        """A boto3 client with moto's any-key credentials, or with `creds` (an STS Credentials)."""
        import boto3

        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        if creds:
            keys = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **keys)

    def enforce_iam(self, on: bool):
        """IAM enforcement on every later request (moto's INITIAL_NO_AUTH_ACTION_COUNT, set on
        the running server: 0 authorizes every request, inf none)."""
        req = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth", data=b"0" if on else b"inf", method="POST",
            headers={"Content-Type": "text/plain"},  # else the body is read as a form, and lost
        )
        urllib.request.urlopen(req, timeout=10).read()


class Deployment:
    def __init__(self, tf_root: Path, env: dict[str, str], moto: Moto, tmp: Path):
        self.tf = _terraform()
        self.dir = tf_root / "sample"
        self.env = env
        self.moto = moto
        # The real zip comes from the autoscaler crate later; the apply only needs a file
        # with a `bootstrap` entry (moto stores the code, it never runs it).
        self.zip = tmp / "autoscaler.zip"
        with zipfile.ZipFile(self.zip, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\necho placeholder autoscaler\n")
        self.varfile = tmp / "moto.tfvars.json"
        self.varfile.write_text(
            json.dumps(
                {
                    "aws_endpoint_url": moto.url,
                    "aws_region": REGION,
                    "cluster_name": CLUSTER,
                    "top_fqdn": TOP_FQDN,
                    "ami_id": "ami-0123456789abcdef0",
                    "autoscaler_zip_path": str(self.zip),
                    "agent_attributes": {"rack": "r1", "tier": "batch"},
                    # lb_deletion_protection and force_destroy_bucket keep their defaults (on,
                    # off): destroy() follows the documented procedure.
                    # moto puts no instance in Pending:Wait, but do not wait on instances anyway
                    "wait_for_capacity_timeout": "0",
                    "alarm_sns_topic_arn": ALARM_TOPIC,
                }
            )
        )
        self.applied = False
        self.destroyed = False
        self.outputs: dict = {}

    def _tf(self, *args: str, timeout: int = 400):
        return _run([self.tf, *args, "-no-color"], self.dir, self.env, timeout=timeout)

    def apply(self):
        self._tf("init", "-backend=false", "-input=false")
        self.applied = True  # even a failed apply may have created something to destroy
        self._tf("apply", "-auto-approve", "-input=false", "-parallelism=30", f"-var-file={self.varfile}")
        out = self._tf("output", "-json").stdout
        self.outputs = {k: v["value"] for k, v in json.loads(out).items()}

    def resources(self) -> list[dict]:
        """Every resource of the state (`terraform show -json`), modules included."""
        state = json.loads(self._tf("show", "-json").stdout)
        out, stack = [], [state["values"]["root_module"]]
        while stack:
            m = stack.pop()
            out += m.get("resources", [])
            stack += m.get("child_modules", [])
        return out

    def plan_exitcode(self, *extra: str) -> subprocess.CompletedProcess:
        """`terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error."""
        return subprocess.run(
            [self.tf, "plan", "-detailed-exitcode", "-input=false", "-no-color", "-parallelism=30",
             f"-var-file={self.varfile}", *extra],
            cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=400,
        )

    def unprotect(self):
        """Step 1 of the destroy procedure (terraform/README.md): deletion protection off and
        force_destroy on, applied to exactly those resources, so that step 2 can delete the NLBs
        and the versioned bucket."""
        self._tf(
            "apply", "-auto-approve", "-input=false", "-parallelism=30", f"-var-file={self.varfile}",
            "-var=lb_deletion_protection=false", "-var=force_destroy_bucket=true",
            "-target=module.load_balancers.aws_lb.this", "-target=module.cluster.aws_s3_bucket.this",
        )

    def destroy(self):
        """Step 2: `terraform destroy` with the same variables as step 1."""
        if self.applied and not self.destroyed:
            self.destroyed = True
            self._tf(
                "destroy", "-auto-approve", "-input=false", "-parallelism=30", "-refresh=false",
                f"-var-file={self.varfile}", "-var=lb_deletion_protection=false", "-var=force_destroy_bucket=true",
            )


@pytest.fixture(scope="module")
def deployed(tf_copy, tmp_path_factory):
    root, env = tf_copy
    tmp = tmp_path_factory.mktemp("moto")
    moto = Moto(_moto_server(), tmp / "moto.log")
    dep = Deployment(root, env, moto, tmp)
    try:
        dep.apply()
        yield dep
    finally:
        try:
            if dep.applied and not dep.destroyed:
                try:
                    dep.unprotect()
                finally:
                    dep.destroy()
        finally:
            moto.stop()


def _tags(tag_list) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tag_list}


def test_asgs_tags_and_launch_templates(deployed):
    asg = deployed.moto.client("autoscaling")
    ec2 = deployed.moto.client("ec2")
    groups = {g["AutoScalingGroupName"]: g for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]}
    assert set(groups) == {f"{CLUSTER}-{r}" for r in ROLES}
    subnets = set(
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [deployed.outputs["vpc_id"]]}])["Subnets"]
    )
    for role in ROLES:
        g = groups[f"{CLUSTER}-{role}"]
        tags = {t["Key"]: t for t in g["Tags"]}
        expected = {
            "mesos:cluster": CLUSTER,
            "mesos:role": role,
            "mesos:shared-config": f"s3://{DOMAIN}/exhibitor/exhibitor.properties",
            "mesos:masters": "3",
            "mesos:ensemble-size": "3",
            "mesos:lifecycle-hook": "mesos-boot-joined",
        }
        if role == "agent":
            expected["mesos:attributes"] = "rack:r1;tier:batch"
        else:
            assert "mesos:attributes" not in tags
        if role == "zookeeper":
            expected["mesos:termination-hook"] = "mesos-boot-left"
            # The sample's ZooKeeper runs quorum TLS and the 2281 TLS client port.
            expected["mesos:zk-tls"] = "true"
            # ZooKeeper nodes talk to their peers directly, never through their own NLB: the
            # endpoint is only the name their TLS certificates carry for clients of the NLB.
            expected["mesos:zk-endpoint"] = f"zookeeper.{DOMAIN}:2181"
        else:
            assert "mesos:termination-hook" not in tags
            assert "mesos:zk-tls" not in tags
            # Mesos reaches ZooKeeper through the NLB's name, which replacements never stale.
            expected["mesos:zk-endpoint"] = f"zookeeper.{DOMAIN}:2181"
        # The group's own tags are not propagated (they would be authoritative in Terraform):
        # the instances get theirs from the launch template.
        for k, v in expected.items():
            assert tags[k]["Value"] == v, (role, k)
            assert tags[k]["PropagateAtLaunch"] is False, (role, k)
        lt = g["LaunchTemplate"]
        data = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"], Versions=[lt["Version"]])[
            "LaunchTemplateVersions"
        ][0]["LaunchTemplateData"]
        specs = {t["ResourceType"]: _tags(t["Tags"]) for t in data["TagSpecifications"]}
        assert {"instance", "volume"} <= set(specs)
        for k, v in expected.items():
            assert specs["instance"][k] == v and specs["volume"][k] == v, (role, k)
        # ... and moto's instances of the group carry them
        members = [i["InstanceId"] for i in g["Instances"]]
        assert members
        for r in ec2.describe_instances(InstanceIds=members)["Reservations"]:
            for i in r["Instances"]:
                itags = _tags(i["Tags"])
                assert all(itags.get(k) == v for k, v in expected.items()), (role, itags)
        if role == "agent":
            assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (1, 20, 3)
            assert g["TargetGroupARNs"] == []
            assert g["HealthCheckType"] == "EC2"
            # AZRebalance would terminate agents the autoscaler has not drained
            assert [p["ProcessName"] for p in g["SuspendedProcesses"]] == ["AZRebalance"]
        else:
            assert g["MinSize"] == g["MaxSize"] == g["DesiredCapacity"] == 3
            # ZooKeeper: EC2 health (the quorum /health would replace every survivor of a
            # quorum loss); masters: ELB health on /master/health.
            assert g["HealthCheckType"] == ("EC2" if role == "zookeeper" else "ELB")
            # ZooKeeper: 2181, 8080 and (the sample's TLS) 2281.
            assert len(g["TargetGroupARNs"]) == (3 if role == "zookeeper" else 1)
            assert g["SuspendedProcesses"] == []
        assert set(g["VPCZoneIdentifier"].split(",")) == subnets and len(subnets) == 3

        hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName=g["AutoScalingGroupName"])["LifecycleHooks"]
        launch = [h for h in hooks if h["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"]
        assert [(h["LifecycleHookName"], h["DefaultResult"], h["HeartbeatTimeout"]) for h in launch] == [
            ("mesos-boot-joined", "ABANDON", 900)
        ]
        # (the termination hook: test_zookeeper_termination_hook)

        md = data["MetadataOptions"]
        assert md["HttpTokens"] == "required"
        assert md["HttpPutResponseHopLimit"] == 1
        assert md["InstanceMetadataTags"] == "enabled"
        assert md["HttpEndpoint"] == "enabled"
        assert data["IamInstanceProfile"]["Arn"].split("/")[-1].startswith(f"{CLUSTER}-{role}-")
        assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
        user_data = base64.b64decode(data["UserData"]).decode()
        assert user_data.startswith("#cloud-config\n")
        assert f"[systemctl, start, mesos-boot@{role}.service" in user_data
        assert ("mesos-boot-serve.service" in user_data) == (role == "zookeeper")
        assert "server 169.254.169.123 prefer iburst" in user_data  # Amazon Time Sync, no internet


def test_zookeeper_termination_hook(deployed):
    """Graceful leave (issue 12): the ZooKeeper group holds a terminating instance in
    Terminating:Wait on `mesos-boot-left` (600 s, then CONTINUE: a node that could not leave is
    terminated all the same) until its `serve` left the ensemble; its instances name the hook in
    `mesos:termination-hook`. Masters and agents have no termination hook (nothing there would
    complete it)."""
    asg = deployed.moto.client("autoscaling")
    ec2 = deployed.moto.client("ec2")
    for role in ROLES:
        name = f"{CLUSTER}-{role}"
        hooks = [
            (h["LifecycleHookName"], h["DefaultResult"], h["HeartbeatTimeout"])
            for h in asg.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
            if h["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
        ]
        (g,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        ids = [i["InstanceId"] for i in g["Instances"]]
        assert ids, role
        tags = [_tags(i["Tags"]) for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]
        if role == "zookeeper":
            assert hooks == [("mesos-boot-left", "CONTINUE", 600)]
            assert [t.get("mesos:termination-hook") for t in tags] == ["mesos-boot-left"] * len(ids)
            assert _tags(g["Tags"])["mesos:termination-hook"] == "mesos-boot-left"
        else:
            assert hooks == [], role
            assert not any("mesos:termination-hook" in t for t in tags), role
    # The documented timeout and default are the module's.
    variables = (TF_DIR / "modules/node/variables.tf").read_text()
    block = variables.split('variable "termination_hook_heartbeat_timeout" {', 1)[1].split("\n}\n", 1)[0]
    assert "default     = 600" in block and "CONTINUE" in block and "terminated all the same" in block


def test_bucket_and_its_policy(deployed):
    s3 = deployed.moto.client("s3")
    ec2 = deployed.moto.client("ec2")
    bucket = DOMAIN
    assert deployed.outputs["bucket_name"] == bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab[k] for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))

    endpoints = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [deployed.outputs["vpc_id"]]}, {"Name": "vpc-endpoint-type", "Values": ["Gateway"]}]
    )["VpcEndpoints"]
    assert len(endpoints) == 1 and endpoints[0]["ServiceName"].endswith(".s3")
    vpce = endpoints[0]["VpcEndpointId"]

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    stmts = {s["Sid"]: s for s in policy["Statement"]}
    resources = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}

    # Only object access is tied to the endpoint: a second operator or a CI role can still list
    # the bucket (HeadBucket) and read and fix its settings (policy, versioning, ...) from
    # outside the VPC (see test_any_administrator_can_plan_but_objects_stay_behind_the_endpoint).
    vpc_rule = stmts["DenyObjectsOutsideVpcEndpoint"]
    assert vpc_rule["Effect"] == "Deny" and vpc_rule["Principal"] == "*"
    assert set(vpc_rule["Action"]) == {
        "s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload", "s3:RestoreObject", "s3:ReplicateObject", "s3:ReplicateDelete",
    }
    assert not any(a.startswith(("s3:GetBucket", "s3:PutBucket", "s3:ListBucket", "s3:*")) for a in vpc_rule["Action"])
    assert vpc_rule["Resource"] in (f"arn:aws:s3:::{bucket}/*", [f"arn:aws:s3:::{bucket}/*"])
    assert vpc_rule["Condition"]["StringNotEquals"]["aws:SourceVpce"] == vpce
    # the Terraform caller (moto's default identity, an IAM user: its ARN is its own issuer ARN)
    # is the break-glass principal
    caller = deployed.moto.client("sts").get_caller_identity()["Arn"]
    assert vpc_rule["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == caller

    tls_rule = stmts["DenyInsecureTransport"]
    assert tls_rule["Effect"] == "Deny" and tls_rule["Action"] == "s3:*"
    assert set(tls_rule["Resource"]) == resources
    assert tls_rule["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_zone_and_alias_records(deployed):
    r53 = deployed.moto.client("route53")
    elb = deployed.moto.client("elbv2")
    zones = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{DOMAIN}."]
    assert len(zones) == 1
    zone = zones[0]
    # A zone created with a VPC is private. moto only records the VPC (and PrivateZone) when the
    # request also carries HostedZoneConfig.PrivateZone=true, which AWS does not need and the
    # provider does not send; so the association is read from moto if it has it, else from the state.
    # (The state cannot tell either: the provider refreshes the zone's vpc list from moto.)
    vpcs = r53.get_hosted_zone(Id=zone["Id"]).get("VPCs")
    if vpcs:
        assert [v["VPCId"] for v in vpcs] == [deployed.outputs["vpc_id"]]
    else:
        (state_zone,) = [r for r in deployed.resources() if r["address"] == "module.cluster.aws_route53_zone.private[0]"]
        assert state_zone["values"]["zone_id"] == zone["Id"].split("/")[-1]
        source = (TF_DIR / "modules/cluster/main.tf").read_text()
        private_zone = source.split('resource "aws_route53_zone" "private"', 1)[1].split("\n}\n", 1)[0]
        assert "vpc {\n    vpc_id = var.vpc_id\n  }" in private_zone

    lbs = {lb["LoadBalancerName"]: lb for lb in elb.describe_load_balancers()["LoadBalancers"]}
    records = {
        r["Name"]: r
        for r in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        if r["Type"] == "A"
    }
    for record, lb_name in (("mesos-master", f"{CLUSTER}-mesos-master"), ("zookeeper", f"{CLUSTER}-zookeeper")):
        r = records[f"{record}.{DOMAIN}."]
        alias = r["AliasTarget"]
        assert alias["DNSName"].rstrip(".").lower() == lbs[lb_name]["DNSName"].lower()
        assert alias["EvaluateTargetHealth"] is True
    assert deployed.outputs["master_fqdn"] == f"mesos-master.{DOMAIN}"
    assert deployed.outputs["zookeeper_fqdn"] == f"zookeeper.{DOMAIN}"


def test_nlb_listeners_and_health_checks(deployed):
    elb = deployed.moto.client("elbv2")
    lbs = {lb["LoadBalancerName"]: lb for lb in elb.describe_load_balancers()["LoadBalancers"]}
    assert set(lbs) == {f"{CLUSTER}-mesos-master", f"{CLUSTER}-zookeeper"}
    tgs = {tg["TargetGroupArn"]: tg for tg in elb.describe_target_groups()["TargetGroups"]}
    expected = {
        f"{CLUSTER}-mesos-master": {80: (5050, "/master/health", "traffic-port"), 5050: (5050, "/master/health", "traffic-port")},
        f"{CLUSTER}-zookeeper": {
            2181: (2181, "/health", "8080"),
            2281: (2281, "/health", "8080"),
            8080: (8080, "/health", "traffic-port"),
            80: (8080, "/health", "traffic-port"),
        },
    }
    for name, lb in lbs.items():
        assert lb["Type"] == "network"
        assert lb["Scheme"] == "internal"
        assert lb["VpcId"] == deployed.outputs["vpc_id"]
        assert len(lb["SecurityGroups"]) == 1
        listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        got = {}
        for li in listeners:
            assert li["Protocol"] == "TCP"
            (action,) = li["DefaultActions"]
            assert action["Type"] == "forward"
            tg = tgs[action["TargetGroupArn"]]
            assert tg["Protocol"] == "TCP" and tg["HealthCheckProtocol"] == "HTTP"
            got[li["Port"]] = (tg["Port"], tg["HealthCheckPath"], tg["HealthCheckPort"])
        assert got == expected[name], name


def _role_policy_actions(iam, role_name: str) -> dict[str, dict]:
    out = {}
    for pname in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role_name, PolicyName=pname)["PolicyDocument"]
        if isinstance(doc, str):
            doc = json.loads(doc)
        for s in doc["Statement"]:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            res = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            out[s["Sid"]] = {"actions": set(actions), "resources": set(res), "condition": s.get("Condition")}
    return out


def _allowed_actions(p: dict[str, dict], resource: str) -> set[str]:
    """The actions the statements of `p` (Allow only: the roles have no Deny) grant on
    `resource`, wildcards of Action and Resource matched as IAM does (conditions aside)."""
    from fnmatch import fnmatchcase

    out = set()
    for st in p.values():
        if any(fnmatchcase(resource, r) for r in st["resources"]):
            out |= st["actions"]
    return out


def _credential_grants(p: dict[str, dict]) -> dict[str, set[str]]:
    """Per Mesos credential, the S3 actions `p` grants on its object (only those granted)."""
    obj = f"arn:aws:s3:::{DOMAIN}/{SHARED_CONFIG_KEY}"
    grants = {c: {a for a in _allowed_actions(p, f"{obj}.{c}") if a.startswith("s3:")} for c in MESOS_CREDENTIALS}
    return {c: a for c, a in grants.items() if a}


def test_iam_least_privilege(deployed):
    iam = deployed.moto.client("iam")
    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"]}
    obj = f"arn:aws:s3:::{DOMAIN}/{SHARED_CONFIG_KEY}"
    credential_arns = {c: f"{obj}.{c}" for c in MESOS_CREDENTIALS}
    for role in ROLES:
        (name,) = [n for n in roles if n.startswith(f"{CLUSTER}-{role}-")]
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
        p = _role_policy_actions(iam, name)
        all_actions = set().union(*(s["actions"] for s in p.values()))
        assert not any(a == "*" or a.endswith(":*") for a in all_actions), all_actions
        assert p["DescribeOwnTags"]["actions"] == {"ec2:DescribeTags"}
        hook = p["CompleteOwnLifecycleHooks"]  # the launch hook and ZooKeeper's termination hook
        assert hook["actions"] == {"autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"}
        (asg_arn,) = hook["resources"]
        assert asg_arn.endswith(f":autoScalingGroupName/{CLUSTER}-{role}")
        assert p["ReadSharedConfig"]["resources"] == {obj}
        # ListBucket on the bucket without an s3:prefix condition: S3 answers a missing key with
        # 404 only then (403 otherwise, fatal for mesos-boot). moto cannot show the difference.
        lb = p["ListBucketSoMissingKeysAre404"]
        assert lb == {"actions": {"s3:ListBucket"}, "resources": {f"arn:aws:s3:::{DOMAIN}"}, "condition": None}
        listing = {"ListBucketSoMissingKeysAre404", "ListSharedConfigVersions"}
        assert not any("ListBucket" in a for sid, st in p.items() if sid not in listing for a in st["actions"])
        # The Mesos credentials, granted by the policy as a whole (any statement, any wildcard):
        # masters GetObject and PutObject on all seven, agents GetObject on their three,
        # ZooKeeper nodes nothing.
        readable = CREDENTIAL_READERS[role]
        expected = {c: {"s3:GetObject", "s3:PutObject"} if role == "master" else {"s3:GetObject"} for c in readable}
        assert _credential_grants(p) == expected, role
        # ... through the two statements of their own, naming each object (no wildcard).
        cred_sids = {sid for sid, st in p.items() if st["resources"] & set(credential_arns.values())}
        if role == "master":
            assert cred_sids == {"ReadMesosCredentials", "CreateMesosCredentials"}
            assert p["ReadMesosCredentials"] == {
                "actions": {"s3:GetObject"}, "resources": set(credential_arns.values()), "condition": None,
            }
            assert p["CreateMesosCredentials"] == {
                "actions": {"s3:PutObject"}, "resources": set(credential_arns.values()), "condition": None,
            }
        elif role == "agent":
            assert cred_sids == {"ReadMesosCredentials"} and "CreateMesosCredentials" not in p
            assert p["ReadMesosCredentials"] == {
                "actions": {"s3:GetObject"}, "resources": {credential_arns[c] for c in readable}, "condition": None,
            }
        else:
            assert cred_sids == set() and "ReadMesosCredentials" not in p and "CreateMesosCredentials" not in p
        if role == "zookeeper":
            assert p["ReadSharedConfig"]["actions"] == {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}
            assert p["DiscoverEnsemble"]["actions"] == {
                "ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            }
            assert p["ZooKeeperSuperSecret"]["actions"] == {"s3:GetObject", "s3:PutObject"}
            assert p["ZooKeeperSuperSecret"]["resources"] == {obj + ".zk-super"}
            # The TLS CA (its key issues every member's certificate): read and create only.
            assert p["ZooKeeperTlsCa"] == {
                "actions": {"s3:GetObject", "s3:PutObject"}, "resources": {obj + ".zk-tls-ca"}, "condition": None,
            }
            # Backups beside the shared config, and nothing else of the bucket.
            assert p["ZooKeeperBackups"]["actions"] == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
            assert p["ZooKeeperBackups"]["resources"] == {obj + ".backups/*"}
            assert p["UseBucketKeyThroughS3"]["actions"] == {"kms:Decrypt", "kms:GenerateDataKey"}
            # The key's versions only: a deleted shared config is not a new cluster.
            lv = p["ListSharedConfigVersions"]
            assert lv["actions"] == {"s3:ListBucketVersions"} and lv["resources"] == {f"arn:aws:s3:::{DOMAIN}"}
            assert lv["condition"] is not None
        else:
            assert "ListSharedConfigVersions" not in p
            assert p["ReadSharedConfig"]["actions"] == {"s3:GetObject", "s3:GetObjectVersion"}
            assert "DiscoverEnsemble" not in p
            # The reconfig secret is the ZooKeeper nodes' alone.
            assert "ZooKeeperSuperSecret" not in p
            assert not any(r.endswith(".zk-super") for s in p.values() for r in s["resources"])
            assert "ZooKeeperTlsCa" not in p
            assert not any(".zk-tls-ca" in r for s in p.values() for r in s["resources"])
            assert "ZooKeeperBackups" not in p
            assert not any(".backups/" in r for s in p.values() for r in s["resources"])
            assert not any(a.startswith("s3:Delete") for a in all_actions)
            if role == "master":
                # Writes: the credentials it creates and the record that the registry formed,
                # nothing else (a data key for them: SSE-KMS).
                assert p["UseBucketKeyThroughS3"]["actions"] == {"kms:Decrypt", "kms:GenerateDataKey"}
                assert {sid for sid, st in p.items() if any(a.startswith("s3:Put") for a in st["actions"])} == {
                    "CreateMesosCredentials", "MesosRegistryRecord"}
                assert p["MesosRegistryRecord"] == {
                    "actions": {"s3:GetObject", "s3:PutObject"}, "resources": {obj + ".mesos-registry"}, "condition": None,
                }
            else:
                assert p["UseBucketKeyThroughS3"]["actions"] == {"kms:Decrypt"}
                assert not any(a.startswith("s3:Put") for a in all_actions)

    (auto,) = [n for n in roles if n.startswith(f"{CLUSTER}-autoscaler-")]
    p = _role_policy_actions(iam, auto)
    (agent_asg,) = p["ResizeAgents"]["resources"]
    assert agent_asg.endswith(f":autoScalingGroupName/{CLUSTER}-agent")
    attached = {a["PolicyName"] for a in iam.list_attached_role_policies(RoleName=auto)["AttachedPolicies"]}
    assert attached == {"AWSLambdaVPCAccessExecutionRole", "AWSXRayDaemonWriteAccess"}
    # S3: its own credential (GetObject only), and ListBucket so that a credential the masters
    # have not created yet is a 404; nothing else of the bucket, not the shared config.
    assert _credential_grants(p) == {"mesos-scale": {"s3:GetObject"}}
    assert p["ReadMesosCredentials"] == {
        "actions": {"s3:GetObject"}, "resources": {credential_arns["mesos-scale"]}, "condition": None,
    }
    assert p["ListBucketSoMissingKeysAre404"] == {
        "actions": {"s3:ListBucket"}, "resources": {f"arn:aws:s3:::{DOMAIN}"}, "condition": None,
    }
    s3_sids = {sid for sid, st in p.items() if any(a.startswith("s3:") for a in st["actions"])}
    assert s3_sids == {"ReadMesosCredentials", "ListBucketSoMissingKeysAre404"}, s3_sids
    for other in (obj, f"{obj}.zk-super", f"{obj}.zk-tls-ca", f"{obj}.backups/x", f"arn:aws:s3:::{DOMAIN}/other"):
        assert not {a for a in _allowed_actions(p, other) if a.startswith("s3:")}, other
    # The bucket's key through S3 only (the bucket is SSE-KMS), decrypt only.
    kms = p["UseBucketKeyThroughS3"]
    assert kms["actions"] == {"kms:Decrypt"}
    (kms_key,) = kms["resources"]
    enc = deployed.moto.client("s3").get_bucket_encryption(Bucket=DOMAIN)["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == kms_key
    via = kms["condition"]["StringEquals"]["kms:ViaService"]
    assert (via if isinstance(via, list) else [via]) == [f"s3.{REGION}.amazonaws.com"]
    # The function learns where its credential is, never the credential itself.
    fn = deployed.moto.client("lambda").get_function(FunctionName=f"{CLUSTER}-autoscaler")["Configuration"]
    env = fn["Environment"]["Variables"]
    assert env["MESOS_SCALE_CREDENTIAL"] == f"s3://{DOMAIN}/{SHARED_CONFIG_KEY}.mesos-scale"


def _flow_table() -> set[tuple[str, str, str]]:
    """The table between BEGIN/END FLOWS in terraform/README.md: (source, destination, ports)."""
    text = (TF_DIR / "README.md").read_text()
    table = text.split("<!-- BEGIN FLOWS -->", 1)[1].split("<!-- END FLOWS -->", 1)[0]
    rows = [r.strip().strip("|").split("|") for r in table.strip().splitlines()[2:]]
    flows = {(c[0].strip(), c[1].strip(), c[2].strip()) for c in rows}
    assert len(flows) == len(rows), "duplicate rows in the flow table"
    return flows


def _state_flows(resources: list[dict], vpc_cidr: str, client_cidrs: set[str]) -> set[tuple[str, str, str]]:
    """The flows the security groups of the state allow. A flow between two groups needs the
    source's egress and the destination's ingress; a rule without its counterpart is reported
    as a flow to/from `<half-open>` so that the comparison fails on it."""
    # the security_groups module's groups (the network module's endpoint group only takes HTTPS
    # from the VPC)
    resources = [r for r in resources if r["address"].startswith("module.security_groups.")]
    groups = {r["values"]["id"]: r["values"]["tags"]["Name"].removeprefix(f"{CLUSTER}-")
              for r in resources if r["type"] == "aws_security_group"}
    assert set(groups.values()) == {"zookeeper", "master", "agent", "lb-master", "lb-zookeeper", "autoscaler"}

    def ports(v):
        if v["ip_protocol"] == "-1":
            return "all"
        return str(v["from_port"]) if v["from_port"] == v["to_port"] else f"{v['from_port']}-{v['to_port']}"

    def peer(v):
        if v.get("referenced_security_group_id"):
            return groups[v["referenced_security_group_id"]]
        if v.get("prefix_list_id"):
            return "s3"
        if v.get("cidr_ipv4") in client_cidrs and v["_dir"] == "in":
            return "clients"
        if v.get("cidr_ipv4") == vpc_cidr and v["_dir"] == "out":
            return "endpoints"
        return v.get("cidr_ipv4") or v.get("cidr_ipv6") or "?"

    ingress, egress = set(), set()
    for r in resources:
        if r["type"] == "aws_vpc_security_group_ingress_rule":
            v = dict(r["values"], _dir="in")
            ingress.add((peer(v), groups[v["security_group_id"]], ports(v)))
        elif r["type"] == "aws_vpc_security_group_egress_rule":
            v = dict(r["values"], _dir="out")
            egress.add((groups[v["security_group_id"]], peer(v), ports(v)))
        elif r["type"] == "aws_security_group_rule":  # legacy rules would escape the check
            raise AssertionError(f"{r['address']}: use aws_vpc_security_group_*_rule")
    flows = set()
    for src, dst, p in ingress:
        if src in groups.values():
            flows.add((src, dst, p) if (src, dst, p) in egress else ("<half-open>", dst, p))
        else:
            flows.add((src, dst, p))
    for src, dst, p in egress:
        if dst in groups.values():
            if (src, dst, p) not in ingress:
                flows.add((src, "<half-open>", p))
        else:
            flows.add((src, dst, p))
    return flows


def test_flow_matrix_matches_the_readme_table(deployed):
    """Every flow of terraform/README.md's table is open, and nothing else is (from the state of
    the applied sample; moto stores security groups but filters no packet)."""
    resources = deployed.resources()
    vpc_cidr = "10.40.0.0/16"
    got = _state_flows(resources, vpc_cidr, {vpc_cidr})
    want = _flow_table()
    assert ("autoscaler", "master", "5050") in want  # the leader, after /master/redirect
    assert got == want, f"open but not in the table: {sorted(got - want)}\nin the table but not open: {sorted(want - got)}"
    # moto holds the same groups, named by prefix (create_before_destroy can replace them)
    ec2 = deployed.moto.client("ec2")
    sgs = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [deployed.outputs["vpc_id"]]}])["SecurityGroups"]
    ours = [g for g in sgs if g["GroupName"] != "default" and not g["GroupName"].endswith("-vpc-endpoints")]
    assert len(ours) == 6
    for g in ours:
        name = _tags(g["Tags"])["Name"]
        assert g["GroupName"].startswith(name + "-") and len(g["GroupName"]) > len(name) + 1, g["GroupName"]


def test_replaceable_names(deployed):
    """Resources with create_before_destroy get names a replacement can take while the old one
    still exists: security groups by name_prefix, target groups with a hash of what forces a
    replacement."""
    by_addr = {r["address"]: r for r in deployed.resources()}
    sgs = [r for a, r in by_addr.items() if r["type"] == "aws_security_group" and a.startswith("module.security_groups.")]
    assert sgs and all(r["values"]["name_prefix"] and r["values"]["name"].startswith(r["values"]["name_prefix"]) for r in sgs)
    tgs = [r for a, r in by_addr.items() if r["type"] == "aws_lb_target_group"]
    assert len(tgs) == 4
    for r in tgs:
        name = r["values"]["name"]
        assert len(name) <= 32 and name.startswith(r["values"]["tags"]["Name"] + "-"), name
    source = (TF_DIR / "modules/load_balancers/main.tf").read_text()
    tg_block = source.split('resource "aws_lb_target_group" "this"', 1)[1].split("\n}\n", 1)[0]
    assert "create_before_destroy = true" in tg_block


def test_autoscaler_lambda_and_schedule(deployed):
    lam = deployed.moto.client("lambda")
    events = deployed.moto.client("events")
    ec2 = deployed.moto.client("ec2")
    fn = lam.get_function(FunctionName=f"{CLUSTER}-autoscaler")["Configuration"]
    assert fn["Runtime"] == "provided.al2023" and fn["Handler"] == "bootstrap"
    assert fn["TracingConfig"]["Mode"] == "Active"
    subnets = {
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [deployed.outputs["vpc_id"]]}])["Subnets"]
    }
    assert set(fn["VpcConfig"]["SubnetIds"]) == subnets
    (sg,) = fn["VpcConfig"]["SecurityGroupIds"]
    assert _tags(ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["Tags"])["Name"] == f"{CLUSTER}-autoscaler"
    assert fn["Environment"]["Variables"]["MESOS_MASTER"] == f"http://mesos-master.{DOMAIN}:5050"
    assert fn["Environment"]["Variables"]["AGENT_ASG_NAME"] == f"{CLUSTER}-agent"
    rule = events.describe_rule(Name=f"{CLUSTER}-autoscaler")
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    targets = events.list_targets_by_rule(Rule=f"{CLUSTER}-autoscaler")["Targets"]
    assert [t["Arn"] for t in targets] == [fn["FunctionArn"]]
    assert targets[0]["RetryPolicy"] == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    # No reserved concurrency by default (accounts with a low quota refuse any), no async
    # retries and a short event age: a throttled tick is dropped, not run hours late.
    assert "Concurrency" not in lam.get_function(FunctionName=f"{CLUSTER}-autoscaler")
    cfg = lam.get_function_event_invoke_config(FunctionName=f"{CLUSTER}-autoscaler")
    assert (cfg["MaximumRetryAttempts"], cfg["MaximumEventAgeInSeconds"]) == (0, 60)


def _flat(v, path=""):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            out.update(_flat(x, f"{path}.{k}" if path else k))
        return out
    if isinstance(v, list):
        out = {}
        for i, x in enumerate(v):
            out.update(_flat(x, f"{path}[{i}]"))
        return out or {path: []}
    return {path: v}


# What moto 5.2.5 answers as every lifecycle hook's RoleARN and NotificationTargetARN.
MOTO_HOOK_ARNS = ("arn:aws:iam::1234567890:role/my-auto-scaling-role", "arn:aws:sqs:us-east-1:123456789012:my-queue")


def _moto_only_change(rc: dict) -> str | None:
    """Why a planned change is one of moto's round-trip quirks (None: a real change).

    * security group rules: moto returns a referenced group as `<account>/sg-...` and drops the
      rule's description, so every rule is planned as updated;
    * launch templates: moto copies the template's own tags into its data as a
      `launch-template` tag specification (AWS has no such resource type there), and the
      groups then see a new template version coming;
    * lifecycle hooks: moto gives each one a fixed notification target and role.
    """
    ch = rc["change"]
    before, after, unknown = _flat(ch["before"] or {}), _flat(ch["after"] or {}), _flat(ch["after_unknown"] or {})
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k) and not unknown.get(k)}
    changed |= {k for k, v in unknown.items() if v is True}
    t = rc["type"]
    if t in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
        ok = all(
            (k == "referenced_security_group_id" and str(before.get(k)).endswith("/" + str(after.get(k))))
            or (k == "description" and not before.get(k))
            for k in changed
        )
        return "moto: sg rule round trip" if ok else None
    if t == "aws_launch_template":
        specs = lambda v: [x for x in (v or {}).get("tag_specifications", []) if x["resource_type"] != "launch-template"]
        if specs(ch["before"]) == specs(ch["after"]) and all(
            k.startswith("tag_specifications") or k in ("default_version", "latest_version") for k in changed
        ):
            return "moto: launch-template tag specification"
        return None
    if t == "aws_autoscaling_group" and all(
        k == "launch_template[0].version" or k.startswith("capacity_reservation_specification") for k in changed
    ):
        # a new launch template version coming (above); moto answers no
        # CapacityReservationSpecification, which the provider reads as a change
        return "moto: new launch template version, capacity reservation default"
    if t == "aws_lambda_function" and not before.get("logging_config[0].log_group") and changed and all(
        k.startswith("logging_config") for k in changed
    ):
        # moto does not return a function's LoggingConfig
        return "moto: lambda logging config"
    if t == "aws_autoscaling_lifecycle_hook" and changed and all(
        k in ("role_arn", "notification_target_arn") and before.get(k) in MOTO_HOOK_ARNS and not after.get(k)
        for k in changed
    ):
        # moto answers DescribeLifecycleHooks with a fixed role and queue of its own
        return "moto: lifecycle hook notification target"
    if t == "aws_route53_zone" and not before.get("vpc") and changed and all(k.startswith("vpc") for k in changed):
        # moto records a zone's VPC only when the request also says PrivateZone=true, which AWS
        # does not need and the provider does not send (see test_zone_and_alias_records)
        return "moto: private zone's VPC"
    return None


def _changed_keys(rc: dict) -> list[str]:
    ch = rc["change"]
    before, after, unknown = _flat(ch["before"] or {}), _flat(ch["after"] or {}), _flat(ch["after_unknown"] or {})
    return sorted(
        {k for k in set(before) | set(after) if before.get(k) != after.get(k) and not unknown.get(k)}
        | {k for k, v in unknown.items() if v is True}
    )


def _real_changes(dep) -> list[str]:
    plan = dep.dir / "drift.tfplan"
    proc = dep.plan_exitcode(f"-out={plan}")
    assert proc.returncode in (0, 2), proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = json.loads(dep._tf("show", "-json", str(plan)).stdout)
    return [
        f"{rc['address']} {rc['change']['actions']} {_changed_keys(rc)}"
        for rc in shown.get("resource_changes", [])
        if rc["change"]["actions"] != ["no-op"] and not _moto_only_change(rc)
    ]


def test_no_drift_after_apply_and_autoscaler_tags(deployed):
    """After the apply, and after the autoscaler wrote what it writes (its state tag on the
    agents' group, idle marks on instances, a new desired capacity), a plan changes nothing
    but what moto round-trips wrongly (see _moto_only_change; on AWS `plan -detailed-exitcode`
    exits 0)."""
    assert _real_changes(deployed) == []
    asg = deployed.moto.client("autoscaling")
    group = f"{CLUSTER}-agent"
    # exactly the calls of scale/src/act.rs
    asg.create_or_update_tags(Tags=[{
        "ResourceId": group, "ResourceType": "auto-scaling-group", "Key": "mesos-scale:state",
        "Value": "out=1700000000", "PropagateAtLaunch": False,
    }])
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=4, HonorCooldown=False)
    (g,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    deployed.moto.client("ec2").create_tags(
        Resources=[i["InstanceId"] for i in g["Instances"]][:1], Tags=[{"Key": "mesos-scale:idle-since", "Value": "1700000000"}]
    )
    assert _real_changes(deployed) == []
    (g,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    assert _tags(g["Tags"])["mesos-scale:state"] == "out=1700000000"


################################################################################
# Least privilege, enforced: the real binaries with exactly the applied roles' policies
################################################################################


def _binary(env: str, name: str) -> str:
    path = os.environ.get(env) or str(REPO / "target/debug" / name)
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"\n\n*** {name} NOT found ({env}={os.environ.get(env)!r}, else {REPO}/target/debug/{name}): the "
            f"least-privilege test runs the real binary. Build it (cargo build) or set {env}. ***\n",
            pytrace=False,
        )
    return path


class _Server:
    """A tiny HTTP server on a free 127.0.0.1 port in a thread; `handle(handler)` answers."""

    def __init__(self, handle):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                handle(self)

            do_PUT = do_GET

            def reply(self, status: int, body: str = "", headers: dict | None = None):
                data = body.encode()
                self.send_response(status)
                for k, v in {"Content-Type": "text/plain", **(headers or {})}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Imds(_Server):
    """IMDSv2 as mesos-boot reads it (token flow; instance id, address, placement, type), with
    instance metadata tags off (404): mesos-boot then reads its tags with ec2:DescribeTags, with
    the role's credentials. `instance` is the emulated instance, changed between runs."""

    def __init__(self):
        import secrets

        self.instance: dict[str, str] = {}
        tokens: set[str] = set()

        def handle(h):
            ttl = h.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if h.command == "PUT":
                if h.path != "/latest/api/token" or not ttl:
                    return h.reply(400)
                tokens.add(tok := secrets.token_hex(16))
                return h.reply(200, tok, {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
            if h.headers.get("X-aws-ec2-metadata-token") not in tokens:
                return h.reply(401)
            value = self.instance.get(h.path.removeprefix("/latest/meta-data/"))
            h.reply(200, value) if value is not None else h.reply(404)

        super().__init__(handle)


class _LeadingMaster(_Server):
    """The leading Mesos master as mesos-scale reads it (`/master/redirect` to itself,
    `/metrics/snapshot`, `/master/state`): every agent of `agents` (EC2 instances) registered,
    95% of the cpus used, so that the autoscaler scales out."""

    def __init__(self, agents: list[dict]):
        cpus = 4.0 * len(agents)
        metrics = {
            "master/elected": 1, "master/cpus_total": cpus, "master/cpus_used": 0.95 * cpus,
            "master/mem_total": 8192.0 * len(agents), "master/mem_used": 1024.0, "master/tasks_staging": 0,
        }
        state = {
            "version": "1.11.0",
            "frameworks": [],
            "slaves": [
                {
                    "id": f"agent-{n}", "hostname": i["PrivateDnsName"], "pid": f"slave(1)@{i['PrivateIpAddress']}:5051",
                    "used_resources": {"cpus": 3.8, "mem": 1024.0 / len(agents)}, "active": True,
                }
                for n, i in enumerate(agents)
            ],
        }

        def handle(h):
            if h.path == "/master/redirect":
                return h.reply(307, "", {"Location": "//" + self.url.removeprefix("http://") + "/master/redirect"})
            body = {"/metrics/snapshot": metrics, "/master/state": state}.get(h.path)
            h.reply(200, json.dumps(body), {"Content-Type": "application/json"}) if body else h.reply(404)

        super().__init__(handle)


def _denied(call) -> str:
    """The error code of a call that must fail (AccessDenied when IAM refuses it)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    except (BotoCoreError, ResponseParserError) as e:  # e.g. moto's HTML 500 for an action it lacks
        return type(e).__name__
    return "allowed"


def test_least_privilege_enforced(deployed, tmp_path):
    """Each role the sample created, with exactly its applied policies, under moto's IAM
    enforcement: mesos-boot (ZooKeeper node, master, agent) and mesos-scale do their work, and
    what the role must not do is AccessDenied.

    How: while moto authorizes nothing yet, an STS session of each applied role is made
    (sts:AssumeRole; its trust policy, ec2/lambda.amazonaws.com, is not what is tested: on AWS
    the instance profile or Lambda makes that session). moto authorizes a role session with
    exactly the role's inline and attached policies. Then enforcement goes on for every request,
    and the binaries run with those credentials (IMDS emulated, tags through ec2:DescribeTags).

    What moto evaluates, and what it does not (moto 5.2.5, moto/iam/access_control.py):
    * Action and Resource of identity policies, and Deny over Allow. S3 calls carry their
      bucket or object ARN. Other services are authorized against Resource "*", so a grant
      scoped to one Auto Scaling group would never match: moto_iam.py gives moto the group's
      ARN for the calls that name one (the autoscaler's ResizeAgents is then evaluated as on AWS),
      and EC2 CreateTags/DeleteTags of instances an instance ARN (TagAgentInstances).
    * No condition of an identity policy: a condition is taken as met. So the autoscaler's
      ec2:CreateTags/DeleteTags being limited to its group's instances
      (aws:ResourceTag/aws:autoscaling:groupName) and to mesos-scale:* keys (aws:TagKeys) is
      not shown (only that the grant covers the agents' instances), nor kms:ViaService
      (moto's S3 calls no KMS at all: kms:Decrypt / GenerateDataKey through S3 are not
      evaluated either) and the s3:prefix of the ZooKeeper nodes' ListBucketVersions are not
      shown; test_iam_least_privilege checks them in the policy text.
    * The bucket policy: moto applies its Deny statements to object calls but none of their
      conditions (aws:SourceVpce, aws:PrincipalArn, aws:SecureTransport), so it would deny
      every object call of every role; it is lifted for this test and put back after.
    * A missing key: moto answers NoSuchKey (404) to any caller allowed s3:GetObject on it,
      ListBucket or not. On AWS a caller without s3:ListBucket on the bucket gets 403 instead
      (issue 10, item 9), which mesos-boot treats as fatal; moto can show the grant is there and
      used (ListObjectsV2 by each node role is allowed), and that the roles' first reads of the
      missing shared config and secret give 404 and the boot goes on, not the 403 itself:
      test_iam_least_privilege checks that the ListBucket grant has no condition.
    """
    moto = deployed.moto
    assert moto.group_resources, "moto runs without moto_iam.py: group-scoped grants cannot be evaluated"
    boot_bin, scale_bin = _binary("MESOS_BOOT_BIN", "mesos-boot"), _binary("MESOS_SCALE_BIN", "mesos-scale")
    iam, s3, asg, ec2, sts = (moto.client(s) for s in ("iam", "s3", "autoscaling", "ec2", "sts"))
    key = SHARED_CONFIG_KEY
    secret = key + ".zk-super"
    tls_ca = key + ".zk-tls-ca"
    credentials = {c: f"{key}.{c}" for c in MESOS_CREDENTIALS}
    groups = {
        g["AutoScalingGroupName"].removeprefix(f"{CLUSTER}-"): g
        for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    }

    def ec2_instances(role: str) -> list[dict]:
        ids = [i["InstanceId"] for i in groups[role]["Instances"]]
        return [i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]

    instances = {role: ec2_instances(role) for role in ROLES}

    # One session of each applied role (made before enforcement: moto checks nothing yet).
    creds = {}
    for role in (*ROLES, "autoscaler"):
        (arn,) = [r["Arn"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{CLUSTER}-{role}-")]
        creds[role] = sts.assume_role(RoleArn=arn, RoleSessionName=f"least-privilege-{role}")["Credentials"]
    imds = _Imds()
    master = _LeadingMaster(instances["agent"])
    desired = groups["agent"]["DesiredCapacity"]
    # No cooldown from an earlier scale-out (the autoscaler's state tag): it scales out now.
    asg.delete_tags(Tags=[{"ResourceId": f"{CLUSTER}-agent", "ResourceType": "auto-scaling-group", "Key": "mesos-scale:state"}])
    # A busy agent marked idle earlier: the autoscaler clears the mark (ec2:DeleteTags).
    busy = instances["agent"][0]["InstanceId"]
    ec2.create_tags(Resources=[busy], Tags=[{"Key": "mesos-scale:idle-since", "Value": "1700000000"}])
    # The ZooKeeper node's address: nothing listens on its client port, so it finds no running
    # ensemble and forms one (of 1: --ensemble-size).
    zk_ip = f"127.{os.getpid() % 200 + 20}.{os.getpid() // 200 % 250}.7"

    def boot(role: str, *args: str) -> subprocess.CompletedProcess:
        inst = instances[role][0]
        imds.instance = {
            "instance-id": inst["InstanceId"], "local-ipv4": zk_ip if role == "zookeeper" else inst["PrivateIpAddress"],
            "local-hostname": inst["PrivateDnsName"], "placement/availability-zone": inst["Placement"]["AvailabilityZone"],
            "placement/region": REGION, "instance-type": inst["InstanceType"],
        }
        return run([boot_bin, "--root", str(tmp_path / role), "--no-start", "--no-wait", "--timeout", "60s", *args], role, 90)

    def run(cmd: list[str], role: str, timeout: int) -> subprocess.CompletedProcess:
        c = creds[role]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MESOS_"))}
        env.update(
            AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"], AWS_SESSION_TOKEN=c["SessionToken"],
            AWS_ENDPOINT_URL=moto.url, AWS_REGION=REGION, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
            RUST_LOG="info",
        )
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)

    def ok(proc: subprocess.CompletedProcess, what: str):
        assert proc.returncode == 0, f"{what} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        if what.startswith("mesos-boot"):  # its tags came from EC2, with the role's credentials
            assert "reading tags with ec2:DescribeTags" in proc.stderr, proc.stderr[-3000:]

    policy = s3.get_bucket_policy(Bucket=DOMAIN)["Policy"]
    s3.delete_bucket_policy(Bucket=DOMAIN)  # see the docstring: moto ignores its conditions
    s3.put_object(Bucket=DOMAIN, Key="exhibitor/other", Body=b"not the shared config\n")
    moto.enforce_iam(True)
    try:
        node = {role: {s: moto.client(s, creds[role]) for s in ("s3", "autoscaling")} for role in creds}
        # Everyone else's keys are refused now: enforcement is on.
        assert _denied(lambda: s3.list_objects_v2(Bucket=DOMAIN)) == "InvalidAccessKeyId"

        # Before any ZooKeeper node ran, the shared config is missing: a 404 to every node role
        # (see the docstring for what moto cannot show about the 403 of AWS), and a listing of
        # the bucket is allowed (s3:ListBucket, what makes AWS answer 404).
        for role in ROLES:
            n3 = node[role]["s3"]
            assert _denied(lambda: n3.get_object(Bucket=DOMAIN, Key=key)) == "NoSuchKey", role
            assert [o["Key"] for o in n3.list_objects_v2(Bucket=DOMAIN).get("Contents", [])] == ["exhibitor/other"], role
        # Nor is any Mesos credential there yet: the masters' first GetObject of each finds
        # nothing (404), as do the agents' and the autoscaler's of theirs; every other read is
        # refused, object or not.
        for role in (*ROLES, "autoscaler"):
            n3 = node[role]["s3"]
            for c, k in credentials.items():
                want = "NoSuchKey" if c in CREDENTIAL_READERS[role] else "AccessDenied"
                assert _denied(lambda: n3.get_object(Bucket=DOMAIN, Key=k)) == want, (role, c)
        assert [o["Key"] for o in node["autoscaler"]["s3"].list_objects_v2(Bucket=DOMAIN).get("Contents", [])] == [
            "exhibitor/other"]

        # ZooKeeper node: reads the missing shared config and secret (404), lists the key's
        # versions, creates both, reads its tags and its group (DescribeTags, Describe*).
        proc = boot("zookeeper", "--ensemble-size", "1")
        ok(proc, "mesos-boot (zookeeper)")
        zk3 = node["zookeeper"]["s3"]
        cfg = zk3.get_object(Bucket=DOMAIN, Key=key)["Body"].read().decode()
        assert f"servers-spec=1\\:{zk_ip}\n" in cfg and f"instances=1\\:{instances['zookeeper'][0]['InstanceId']}\n" in cfg, cfg
        assert zk3.get_object(Bucket=DOMAIN, Key=secret)["Body"].read()
        # mesos:zk-tls (the sample's default): it created the TLS CA and issued itself a
        # certificate from it.
        assert b"BEGIN PRIVATE KEY" in zk3.get_object(Bucket=DOMAIN, Key=tls_ca)["Body"].read()
        assert "BEGIN CERTIFICATE" in (tmp_path / "zookeeper/etc/zookeeper/tls/node.pem").read_text()
        assert (tmp_path / "zookeeper/var/lib/mesos-boot/boot.json").exists()
        # ... and nothing else: no other key, no group change.
        assert _denied(lambda: zk3.put_object(Bucket=DOMAIN, Key="exhibitor/other", Body=b"x")) == "AccessDenied"
        assert _denied(lambda: zk3.get_object(Bucket=DOMAIN, Key="exhibitor/other")) == "AccessDenied"
        assert _denied(lambda: zk3.delete_object(Bucket=DOMAIN, Key=key)) == "AccessDenied"
        # Backups beside the shared config: serve's lease holder writes and prunes them.
        backup = key + ".backups/1-0000000100000005/manifest.json"
        zk3.put_object(Bucket=DOMAIN, Key=backup, Body=b"{}")
        assert zk3.get_object(Bucket=DOMAIN, Key=backup)["Body"].read() == b"{}"
        zk3.delete_object(Bucket=DOMAIN, Key=backup)
        assert _denied(lambda: zk3.put_object(Bucket=DOMAIN, Key="exhibitor/x.backups/y", Body=b"x")) == "AccessDenied"
        zk3.put_object(Bucket=DOMAIN, Key=backup, Body=b"{}")  # for the other roles below
        assert _denied(lambda: node["zookeeper"]["autoscaling"].set_desired_capacity(
            AutoScalingGroupName=f"{CLUSTER}-zookeeper", DesiredCapacity=3)) == "AccessDenied"

        # Master and agent: read the shared config (and their tags) and render.
        # No Mesos is installed under these roots to ask which authentication an agent's
        # executors can use: the image's agent has tokens.
        for role, args in (("master", ()), ("agent", ("--executor-auth", "token"))):
            ok(boot(role, *args), f"mesos-boot ({role})")
            assert (tmp_path / role / "var/lib/mesos-boot/boot.json").exists(), role
            n3 = node[role]["s3"]
            # The reconfig secret is the ZooKeeper nodes' alone; the shared config is read-only.
            assert _denied(lambda: n3.get_object(Bucket=DOMAIN, Key=secret)) == "AccessDenied", role
            assert _denied(lambda: n3.head_object(Bucket=DOMAIN, Key=secret)) in ("403", "AccessDenied"), role
            assert _denied(lambda: n3.put_object(Bucket=DOMAIN, Key=key, Body=b"x=1\n")) == "AccessDenied", role
            assert _denied(lambda: n3.put_object(Bucket=DOMAIN, Key=secret, Body=b"x\n")) == "AccessDenied", role
            # Nor is the ZooKeeper TLS CA.
            assert _denied(lambda: n3.get_object(Bucket=DOMAIN, Key=tls_ca)) == "AccessDenied", role
            assert _denied(lambda: n3.put_object(Bucket=DOMAIN, Key=tls_ca, Body=b"{}")) == "AccessDenied", role
            assert _denied(lambda: n3.delete_object(Bucket=DOMAIN, Key=key)) == "AccessDenied", role
            # ZooKeeper's data (the backups) is not theirs to read or change.
            assert _denied(lambda: n3.get_object(Bucket=DOMAIN, Key=backup)) == "AccessDenied", role
            assert _denied(lambda: n3.put_object(Bucket=DOMAIN, Key=backup, Body=b"x")) == "AccessDenied", role
            assert _denied(lambda: n3.delete_object(Bucket=DOMAIN, Key=backup)) == "AccessDenied", role
            assert _denied(lambda: node[role]["autoscaling"].set_desired_capacity(
                AutoScalingGroupName=f"{CLUSTER}-agent", DesiredCapacity=desired)) == "AccessDenied", role
        assert zk3.get_object(Bucket=DOMAIN, Key=key)["Body"].read().decode() == cfg  # unchanged

        # The Mesos credentials: a master creates each one that its mesos-boot has not (a
        # create-only PutObject, If-None-Match: *; a second create is S3's 412, not IAM's
        # refusal) and reads all seven.
        m3 = node["master"]["s3"]
        created = {}
        for c, k in credentials.items():
            first = _denied(lambda: m3.get_object(Bucket=DOMAIN, Key=k))
            assert first in ("NoSuchKey", "allowed"), (c, first)  # allowed: mesos-boot made it
            if first == "NoSuchKey":
                m3.put_object(Bucket=DOMAIN, Key=k, Body=f"test credential {c}\n".encode(), IfNoneMatch="*")
            created[c] = m3.get_object(Bucket=DOMAIN, Key=k)["Body"].read()
            assert created[c], c
            assert _denied(lambda: m3.put_object(Bucket=DOMAIN, Key=k, Body=b"x", IfNoneMatch="*")) == "PreconditionFailed", c
            assert _denied(lambda: m3.delete_object(Bucket=DOMAIN, Key=k)) == "AccessDenied", c
        # ... and no other key beside the shared config (the grant names the seven objects).
        assert _denied(lambda: m3.put_object(Bucket=DOMAIN, Key=key + ".mesos-other", Body=b"x", IfNoneMatch="*")) == (
            "AccessDenied")
        assert _denied(lambda: m3.put_object(Bucket=DOMAIN, Key=key + ".mesos-agent/x", Body=b"x")) == "AccessDenied"
        # The record that the masters' registry formed: masters read it (404 until then; their
        # boot read it above) and create it once; nobody else reads or writes it.
        reg = key + ".mesos-registry"
        assert _denied(lambda: m3.get_object(Bucket=DOMAIN, Key=reg)) == "NoSuchKey"
        m3.put_object(Bucket=DOMAIN, Key=reg, Body=b"formed test\n", IfNoneMatch="*")
        assert _denied(lambda: m3.put_object(Bucket=DOMAIN, Key=reg, Body=b"x", IfNoneMatch="*")) == "PreconditionFailed"
        assert _denied(lambda: m3.delete_object(Bucket=DOMAIN, Key=reg)) == "AccessDenied"
        for role in ("agent", "zookeeper"):
            n3 = node[role]["s3"]
            assert _denied(lambda: n3.get_object(Bucket=DOMAIN, Key=reg)) == "AccessDenied", role
            assert _denied(lambda: n3.put_object(Bucket=DOMAIN, Key=reg, Body=b"x")) == "AccessDenied", role
        # Agents read their three (the read-only ZooKeeper digest, registration, their own HTTP
        # endpoints), not the masters', the autoscaler's, the operators' or the frameworks', and
        # write none; ZooKeeper nodes read and write none.
        for role in ("agent", "zookeeper"):
            n3 = node[role]["s3"]
            for c, k in credentials.items():
                if c in CREDENTIAL_READERS[role]:
                    assert n3.get_object(Bucket=DOMAIN, Key=k)["Body"].read() == created[c], (role, c)
                else:
                    assert _denied(lambda: n3.get_object(Bucket=DOMAIN, Key=k)) == "AccessDenied", (role, c)
                    assert _denied(lambda: n3.head_object(Bucket=DOMAIN, Key=k)) in ("403", "AccessDenied"), (role, c)
                assert _denied(lambda: n3.put_object(Bucket=DOMAIN, Key=k, Body=b"x")) == "AccessDenied", (role, c)
                assert _denied(lambda: n3.put_object(Bucket=DOMAIN, Key=k, Body=b"x", IfNoneMatch="*")) == (
                    "AccessDenied"), (role, c)
                assert _denied(lambda: n3.delete_object(Bucket=DOMAIN, Key=k)) == "AccessDenied", (role, c)
        assert CREDENTIAL_READERS["zookeeper"] == ()
        for c, k in credentials.items():  # nobody overwrote them
            assert m3.get_object(Bucket=DOMAIN, Key=k)["Body"].read() == created[c], c
        # Each node completes the launch hook of its own group only (past authorization, moto
        # 5.2.5 fails CompleteLifecycleAction, which it does not implement: not AccessDenied).
        for role, other in zip(ROLES, ROLES[1:] + ROLES[:1]):
            def hook(group_role: str):
                return node[role]["autoscaling"].complete_lifecycle_action(
                    AutoScalingGroupName=f"{CLUSTER}-{group_role}", LifecycleHookName="mesos-boot-joined",
                    InstanceId=instances[group_role][0]["InstanceId"], LifecycleActionResult="CONTINUE",
                )

            assert _denied(lambda: hook(role)) != "AccessDenied", role
            assert _denied(lambda: hook(other)) == "AccessDenied", (role, other)

        # Autoscaler: describes the agents' group and instances, scales out (SetDesiredCapacity),
        # saves its state tag (CreateOrUpdateTags) on that group, clears a stale idle mark.
        proc = run([scale_bin, "--once", "--asg", f"{CLUSTER}-agent", "--master", master.url, "--log-format", "plain"],
                   "autoscaler", 60)
        ok(proc, "mesos-scale")
        auto = node["autoscaler"]["autoscaling"]
        (g,) = auto.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{CLUSTER}-agent"])["AutoScalingGroups"]
        assert g["DesiredCapacity"] > desired, (desired, g["DesiredCapacity"], proc.stderr[-3000:])
        state = _tags(g["Tags"])["mesos-scale:state"]
        assert state.startswith("out="), state
        (i,) = moto.client("ec2", creds["autoscaler"]).describe_instances(InstanceIds=[busy])["Reservations"][0]["Instances"]
        assert "mesos-scale:idle-since" not in _tags(i.get("Tags", [])), i.get("Tags")
        # ... and nothing else: not the ZooKeeper (or masters') group, not the bucket.
        zk_group, zk_instance = f"{CLUSTER}-zookeeper", groups["zookeeper"]["Instances"][0]["InstanceId"]
        for other in (zk_group, f"{CLUSTER}-master"):
            assert _denied(lambda: auto.set_desired_capacity(AutoScalingGroupName=other, DesiredCapacity=1)) == "AccessDenied"
            assert _denied(lambda: auto.create_or_update_tags(Tags=[{
                "ResourceId": other, "ResourceType": "auto-scaling-group", "Key": "mesos-scale:state", "Value": "x",
                "PropagateAtLaunch": False,
            }])) == "AccessDenied"
        assert _denied(lambda: auto.terminate_instance_in_auto_scaling_group(
            InstanceId=zk_instance, ShouldDecrementDesiredCapacity=False)) == "AccessDenied"
        # S3: its own credential, read-only; no other credential, not the shared config.
        auto3 = node["autoscaler"]["s3"]
        assert auto3.get_object(Bucket=DOMAIN, Key=credentials["mesos-scale"])["Body"].read() == created["mesos-scale"]
        for c, k in credentials.items():
            if c != "mesos-scale":
                assert _denied(lambda: auto3.get_object(Bucket=DOMAIN, Key=k)) == "AccessDenied", c
            assert _denied(lambda: auto3.put_object(Bucket=DOMAIN, Key=k, Body=b"x")) == "AccessDenied", c
            assert _denied(lambda: auto3.put_object(Bucket=DOMAIN, Key=k, Body=b"x", IfNoneMatch="*")) == "AccessDenied", c
            assert _denied(lambda: auto3.delete_object(Bucket=DOMAIN, Key=k)) == "AccessDenied", c
        for other in (key, secret, backup, "exhibitor/other"):
            assert _denied(lambda: auto3.get_object(Bucket=DOMAIN, Key=other)) == "AccessDenied", other
    finally:
        moto.enforce_iam(False)
        imds.stop()
        master.stop()
        # test_destroy_leaves_nothing counts the versions it writes: leave the bucket as found.
        vs = s3.list_object_versions(Bucket=DOMAIN)
        for v in vs.get("Versions", []) + vs.get("DeleteMarkers", []):
            s3.delete_object(Bucket=DOMAIN, Key=v["Key"], VersionId=v["VersionId"])
        s3.put_bucket_policy(Bucket=DOMAIN, Policy=policy)


def test_termination_hook_least_privilege(deployed):
    """Under moto's IAM enforcement, with STS sessions of the applied node roles (boto3 only, no
    binary): a ZooKeeper node may heartbeat and complete the termination hook of its own group,
    and no role may act on another group's hooks (the grant is the node's own group ARN)."""
    moto = deployed.moto
    assert moto.group_resources, "moto runs without moto_iam.py: group-scoped grants cannot be evaluated"
    iam, asg, sts = (moto.client(s) for s in ("iam", "autoscaling", "sts"))
    instance = {
        role: asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{CLUSTER}-{role}"])["AutoScalingGroups"][0][
            "Instances"][0]["InstanceId"]
        for role in ROLES
    }
    node = {}
    for role in ROLES:
        (arn,) = [r["Arn"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{CLUSTER}-{role}-")]
        creds = sts.assume_role(RoleArn=arn, RoleSessionName=f"leave-{role}")["Credentials"]
        node[role] = moto.client("autoscaling", creds)

    def calls(role: str, group_role: str):
        args = dict(AutoScalingGroupName=f"{CLUSTER}-{group_role}", LifecycleHookName="mesos-boot-left",
                    InstanceId=instance[group_role])
        c = node[role]
        return (
            lambda: c.complete_lifecycle_action(**args, LifecycleActionResult="CONTINUE"),
            lambda: c.record_lifecycle_action_heartbeat(**args),
        )

    moto.enforce_iam(True)
    try:
        assert _denied(lambda: asg.describe_auto_scaling_groups()) == "InvalidClientTokenId"  # enforcement is on
        # Past authorization, moto 5.2.5 (without moto_ext.py) fails both: it lacks them.
        for call in calls("zookeeper", "zookeeper"):
            assert _denied(call) not in ("AccessDenied", "allowed", "InvalidClientTokenId", "InvalidAccessKeyId")
        for role, other in (("zookeeper", "master"), ("zookeeper", "agent"), ("master", "zookeeper"), ("agent", "zookeeper")):
            for call in calls(role, other):
                assert _denied(call) == "AccessDenied", (role, other)
    finally:
        moto.enforce_iam(False)


################################################################################
# What stops a first deploy or hurts a first upgrade on AWS (issue 22)
################################################################################

# One address per group, inside the VPC (the sample's 10.40.0.0/16): where its members live.
GROUP_ADDRESS = {
    "zookeeper": "10.40.1.10", "master": "10.40.1.20", "agent": "10.40.1.30",
    "lb-zookeeper": "10.40.2.10", "lb-master": "10.40.2.20", "autoscaler": "10.40.3.10",
}


class SecurityGroups:
    """The security groups of a `terraform show -json` (or plan) as AWS evaluates them: a
    connection from a member of group A to a member of group B on a port is allowed when A has
    an egress rule to B (or to a CIDR holding B's address) on that port, and B an ingress rule
    from A (or from a CIDR holding A's address). Answers are stateful, as security groups are."""

    def __init__(self, resources: list[dict]):
        import ipaddress

        self._net = ipaddress
        resources = [r for r in resources if r["address"].startswith("module.security_groups.")]
        self.name = {r["values"]["id"]: r["values"]["tags"]["Name"].removeprefix(f"{CLUSTER}-")
                     for r in resources if r["type"] == "aws_security_group"}
        self.rules = []  # (direction, group, peer group or None, cidr or None, from, to)
        for r in resources:
            if r["type"] not in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
                continue
            v = r["values"]
            d = "in" if r["type"].endswith("ingress_rule") else "out"
            lo, hi = (0, 65535) if v["ip_protocol"] == "-1" else (v["from_port"], v["to_port"])
            peer = self.name.get(v.get("referenced_security_group_id") or "")
            self.rules.append((d, self.name[v["security_group_id"]], peer, v.get("cidr_ipv4"), lo, hi))

    def _match(self, d, group, peer, peer_addr, port) -> bool:
        for rd, g, pg, cidr, lo, hi in self.rules:
            if rd == d and g == group and lo <= port <= hi:
                if pg is not None and pg == peer:
                    return True
                if cidr and peer_addr and self._net.ip_address(peer_addr) in self._net.ip_network(cidr):
                    return True
        return False

    def allows(self, src: str, dst: str, port: int, src_addr: str | None = None) -> bool:
        """`src`, `dst`: group names, or `src` None with `src_addr` (a client outside every group)."""
        s_addr = src_addr or GROUP_ADDRESS[src]
        egress = src is None or self._match("out", src, dst, GROUP_ADDRESS[dst], port)
        return egress and self._match("in", dst, src, s_addr, port)


# Every path through the load balancers that the sample renders (a source's group, the NLB,
# the listener, the target group, the target port) and why it is taken.
NLB_PATHS = [
    ("master", "lb-zookeeper", 2181, "zookeeper", 2181, "Mesos masters' zk:// URL is zookeeper.<domain>:2181 (mesos:zk-endpoint)"),
    ("agent", "lb-zookeeper", 2181, "zookeeper", 2181, "Mesos agents' master detection through zookeeper.<domain>:2181"),
    ("agent", "lb-master", 5050, "master", 5050, "agents and their tasks calling mesos-master.<domain>:5050"),
    ("agent", "lb-master", 80, "master", 5050, "agents and their tasks calling mesos-master.<domain>"),
    ("autoscaler", "lb-master", 5050, "master", 5050, "the autoscaler's MESOS_MASTER"),
]


def test_mesos_reaches_zookeeper_and_the_masters_through_the_nlbs(deployed):
    """The sample's default: masters and agents reach ZooKeeper at zookeeper.<domain>:2181, the
    NLB. Every hop of each such path must be open in both groups' rules, and must stay open when
    the load balancers' clients are not the VPC (client_cidr_blocks set to a peered network)."""
    sgs = SecurityGroups(deployed.resources())
    closed = [
        f"{src} -> {lb}:{port} -> {dst}:{tport} ({why})"
        for src, lb, port, dst, tport, why in NLB_PATHS
        if not (sgs.allows(src, lb, port) and sgs.allows(lb, dst, tport))
    ]
    assert closed == [], "paths the security groups drop:\n" + "\n".join(closed)
    # the same without the VPC among the NLBs' clients
    plan = deployed.dir / "peered.tfplan"
    proc = deployed.plan_exitcode("-refresh=false", '-var=client_cidr_blocks=["172.16.0.0/16"]', f"-out={plan}")
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = json.loads(deployed._tf("show", "-json", str(plan)).stdout)
    planned, stack = [], [shown["planned_values"]["root_module"]]
    while stack:
        m = stack.pop()
        planned += m.get("resources", [])
        stack += m.get("child_modules", [])
    # the planned rules reference groups by id, which the plan knows (the groups stay)
    sgs = SecurityGroups(planned)
    closed = [
        f"{src} -> {lb}:{port} -> {dst}:{tport} ({why})"
        for src, lb, port, dst, tport, why in NLB_PATHS
        if not (sgs.allows(src, lb, port) and sgs.allows(lb, dst, tport))
    ]
    assert closed == [], "with client_cidr_blocks = [172.16.0.0/16], paths the security groups drop:\n" + "\n".join(closed)
    assert sgs.allows(None, "lb-zookeeper", 2181, src_addr="172.16.5.5")
    assert not sgs.allows(None, "lb-zookeeper", 2181, src_addr="10.40.9.9"), "the VPC is no client any more"


def _policy_denies(policy: dict, action: str, resource: str, principal_arn: str, source_vpce: str | None, secure=True) -> list[str]:
    """The Sids of the bucket policy's Deny statements that match a request (IAM's evaluation
    of the operators the policy uses: wildcards in actions and resources, StringNotEquals,
    ArnNotLike, Bool; a condition key absent from the request makes StringNotEquals true)."""
    from fnmatch import fnmatchcase

    context = {"aws:PrincipalArn": principal_arn, "aws:SecureTransport": "true" if secure else "false"}
    if source_vpce:
        context["aws:SourceVpce"] = source_vpce
    hits = []
    for s in policy["Statement"]:
        if s["Effect"] != "Deny":
            continue
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        resources = [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
        if not any(fnmatchcase(action, a) for a in actions) or not any(fnmatchcase(resource, r) for r in resources):
            continue
        ok = True
        for op, conds in s.get("Condition", {}).items():
            for key, values in conds.items():
                values = [values] if isinstance(values, str) else values
                have = context.get(key)
                if op == "StringNotEquals":
                    ok &= have is None or have not in values
                elif op == "ArnNotLike":
                    ok &= have is None or not any(fnmatchcase(have, v) for v in values)
                elif op == "Bool":
                    ok &= have is not None and have in values
                else:
                    raise AssertionError(f"{s['Sid']}: condition operator {op} not evaluated here")
        if ok:
            hits.append(s["Sid"])
    return hits


def test_any_administrator_can_plan_but_objects_stay_behind_the_endpoint(deployed):
    """`terraform plan` by an administrator who is not break-glass (a second operator, a CI role)
    refreshes the bucket: HeadBucket needs s3:ListBucket, then the bucket's settings. The bucket
    policy must not deny those; it must still deny the objects from outside the VPC endpoint."""
    s3 = deployed.moto.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=DOMAIN)["Policy"])
    bucket, obj = f"arn:aws:s3:::{DOMAIN}", f"arn:aws:s3:::{DOMAIN}/{SHARED_CONFIG_KEY}"
    admin = "arn:aws:iam::123456789012:role/SecondOperator"
    caller = deployed.moto.client("sts").get_caller_identity()["Arn"]  # break-glass: the Terraform caller
    vpce = json.loads(json.dumps(policy))["Statement"][0]["Condition"]["StringNotEquals"]["aws:SourceVpce"]
    refresh = ["s3:ListBucket", "s3:GetBucketPolicy", "s3:GetBucketVersioning", "s3:GetLifecycleConfiguration",
               "s3:GetEncryptionConfiguration", "s3:GetBucketTagging", "s3:GetBucketPublicAccessBlock"]
    denied = {a: _policy_denies(policy, a, bucket, admin, None) for a in refresh}
    assert all(not v for v in denied.values()), f"a plan by {admin} from outside the VPC is denied: {denied}"
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"):
        assert _policy_denies(policy, action, obj, admin, None), f"{action} from outside the endpoint is allowed"
        assert not _policy_denies(policy, action, obj, admin, vpce), f"{action} through the endpoint is denied"
        assert not _policy_denies(policy, action, obj, caller, None), f"{action} by break-glass is denied"
    assert _policy_denies(policy, "s3:ListBucket", bucket, caller, vpce, secure=False) == ["DenyInsecureTransport"]


# The sample's variables, each with another value an operator might apply to a running cluster.
# Identity variables (a new cluster) are listed apart: changing them replaces everything.
IDENTITY_VARIABLES = {"aws_region", "aws_endpoint_url", "cluster_name", "top_fqdn", "vpc_cidr_block", "existing_vpc"}
# Refused on a running cluster by the plan itself (see test_master_count_change_is_refused).
REFUSED_VARIABLES = {"master_count"}
TUNABLE_VARIABLES = {
    "availability_zones": ["us-east-1a", "us-east-1b"],
    "ami_id": "ami-0fedcba9876543210",
    "zookeeper_count": 5,
    "agent_count": 5,
    "agent_min_size": 2,
    "agent_max_size": 40,
    "instance_types": {"zookeeper": "m6i.xlarge", "master": "m6i.xlarge", "agent": "m6i.2xlarge"},
    "agent_attributes": {"rack": "r2"},
    "autoscaler_zip_path": "CHANGED_ZIP",
    "autoscaler_architecture": "arm64",
    "public_zone": True,  # with parent_zone_id (validation needs both)
    "parent_zone_id": "Z0123456789ABCDEFGHIJ",
    "break_glass_principal_arns": ["arn:aws:iam::123456789012:role/BreakGlass"],
    "client_cidr_blocks": ["172.16.0.0/16"],
    "agent_egress_cidr_blocks": ["0.0.0.0/0"],
    "mesos_zk_through_load_balancer": False,
    "zookeeper_tls": False,
    "lb_deletion_protection": False,
    "force_destroy_bucket": True,
    "wait_for_capacity_timeout": "50m",
    "lifecycle_hook_heartbeat_timeout": 1200,
    "alarm_sns_topic_arn": None,
    "operator_access": "ssm",
    "autoscaler_reserved_concurrency": 1,
    "tags": {"team": "mesos"},
}


def _sample_variables() -> set[str]:
    import re

    return set(re.findall(r'^variable "([^"]+)"', (TF_DIR / "sample/variables.tf").read_text(), re.M))


def _replacements(dep, tmp_path: Path, name: str, values: dict) -> tuple[list[str], str | None]:
    """The groups (Auto Scaling, the security_groups module's) a plan with `values` on top of the
    deployment's variables would replace or delete; and the plan's error, if it failed."""
    varfile = tmp_path / f"{name}.tfvars.json"
    varfile.write_text(json.dumps(values))
    proc = subprocess.run(
        [dep.tf, "plan", "-json", "-refresh=false", "-lock=false", "-input=false", "-parallelism=30",
         f"-var-file={dep.varfile}", f"-var-file={varfile}"],
        cwd=dep.dir, env=dep.env, capture_output=True, text=True, timeout=400,
    )
    msgs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    errors = [m["@message"] for m in msgs if m.get("@level") == "error"]
    if proc.returncode != 0 or errors:
        return [], f"{errors or proc.stderr[-500:]}"
    out = []
    for m in msgs:
        if m.get("type") != "planned_change":
            continue
        res, action = m["change"]["resource"], m["change"]["action"]
        if action not in ("replace", "delete"):
            continue
        if res["resource_type"] == "aws_autoscaling_group" or (
            res["resource_type"] == "aws_security_group" and res["addr"].startswith("module.security_groups.")
        ):
            out.append(f"{res['addr']} {action}")
    return out, None


def test_no_variable_change_replaces_a_group(deployed, tmp_path):
    """The first upgrade must not replace a running group (every ZooKeeper member, every master
    with its replicated log, every agent undrained, at once) nor a security group in use (fails
    after 45 minutes with DependencyViolation). Every tunable variable of the sample gets another
    value; the plan may update the groups in place, never replace or delete one. One plan with
    every change at once (a replacement that one change forces shows in it too); when it
    replaces anything, or with TF_TEST_PLAN_EACH=1, one plan per variable names the culprits
    (about 10 s each on an idle machine)."""
    assert set(TUNABLE_VARIABLES) | IDENTITY_VARIABLES | REFUSED_VARIABLES == _sample_variables(), (
        "classify every sample variable here")
    other_zip = tmp_path / "other.zip"
    shutil.copy(deployed.zip, other_zip)
    with zipfile.ZipFile(other_zip, "a") as z:
        z.writestr("changed", "x")
    changes = {k: (str(other_zip) if v == "CHANGED_ZIP" else v) for k, v in TUNABLE_VARIABLES.items()}
    replaced, error = _replacements(deployed, tmp_path, "all", changes)
    assert error is None, f"the plan with every variable changed failed: {error}"
    if replaced or os.environ.get("TF_TEST_PLAN_EACH") == "1":
        each, failed = [], []
        for name, value in changes.items():
            values = {name: value}
            if name == "public_zone":
                values["parent_zone_id"] = changes["parent_zone_id"]
            r, e = _replacements(deployed, tmp_path, name, values)
            each += [f"{name}={json.dumps(value)}: {x}" for x in r]
            failed += [f"{name}: {e}"] if e else []
        assert failed == [], "plans that failed:\n" + "\n".join(failed)
        replaced = each or replaced
    assert replaced == [], "a variable change replaces a group:\n" + "\n".join(replaced)


def test_a_new_ami_rolls_zookeeper_and_masters_one_at_a_time_and_never_agents(deployed):
    """A new launch template (ami_id) starts an instance refresh of the ZooKeeper and master
    groups that replaces exactly one instance at a time (each leaves through the termination
    hook, each replacement completes its launch hook first); agents are never refreshed (a
    refresh terminates them undrained: terraform/README.md, "Rolling a new AMI")."""
    groups = {r["address"].split(".")[1]: r["values"] for r in deployed.resources() if r["type"] == "aws_autoscaling_group"}
    for role in ("zookeeper", "master"):
        (refresh,) = groups[role]["instance_refresh"]
        (prefs,) = refresh["preferences"]
        size = groups[role]["max_size"]
        assert refresh["strategy"] == "Rolling" and prefs["skip_matching"] is True, refresh
        # the largest share of the group that stays healthy with exactly one instance out
        assert size - 1 >= size * prefs["min_healthy_percentage"] / 100 > size - 2, (role, prefs)
        assert prefs["max_healthy_percentage"] == 100, prefs
    assert groups["agent"]["instance_refresh"] == [], groups["agent"]["instance_refresh"]
    text = (TF_DIR / "README.md").read_text()
    assert "### Rolling a new AMI" in text


def test_operator_access_ssm(deployed):
    """operator_access = "ssm": Session Manager's interface endpoints in the VPC and, in every node
    role, exactly what the SSM agent calls (and nothing of SSM without it)."""
    plan = deployed.dir / "ssm.tfplan"
    proc = deployed.plan_exitcode("-refresh=false", "-lock=false", "-var=operator_access=ssm", f"-out={plan}")
    assert proc.returncode == 2, (proc.stdout + proc.stderr)[-3000:]
    shown = json.loads(deployed._tf("show", "-json", str(plan)).stdout)
    changes = {rc["address"]: rc for rc in shown["resource_changes"] if rc["change"]["actions"] != ["no-op"]}
    endpoints = sorted(rc["change"]["after"]["service_name"].rsplit(".", 1)[1] for rc in changes.values()
                       if rc["type"] == "aws_vpc_endpoint")
    assert endpoints == ["ec2messages", "ssm", "ssmmessages"], endpoints
    for role in ROLES:
        rc = changes[f"module.{role}.aws_iam_role_policy.this"]
        statements = {s["Sid"]: s for s in json.loads(rc["change"]["after"]["policy"])["Statement"]}
        actions = statements["SessionManagerAgent"]["Action"]
        assert "ssm:UpdateInstanceInformation" in actions and "ssmmessages:OpenDataChannel" in actions
        assert not any(a.startswith(("ssm:GetParameter", "ssm:SendCommand", "s3:")) or a.endswith("*") for a in actions), actions
    assert not [rc for rc in changes.values() if "delete" in rc["change"]["actions"]], "ssm replaces or deletes something"
    applied = {r["address"]: r for r in deployed.resources()}
    for role in ROLES:
        policy = applied[f"module.{role}.aws_iam_role_policy.this"]["values"]["policy"]
        assert "ssm" not in policy and "ec2messages" not in policy, f"{role}: SSM actions without operator_access"


def test_master_count_change_is_refused_until_the_masters_carry_it(deployed):
    """Masters render --quorum from their instance's mesos:masters tag at boot and tags never
    change on running instances: a new master_count would leave old masters on the old quorum.
    The plan refuses it until the group carries the new count (terraform/README.md, "Changing
    the number of masters": tag, restart one at a time, then apply)."""
    proc = deployed.plan_exitcode("-refresh=false", "-lock=false", "-var=master_count=5")
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1 and "master_count cannot change on a running cluster" in out, out[-3000:]
    asg = deployed.moto.client("autoscaling")
    tag = lambda v: [{"ResourceId": f"{CLUSTER}-master", "ResourceType": "auto-scaling-group", "Key": "mesos:masters",
                      "Value": v, "PropagateAtLaunch": False}]
    asg.create_or_update_tags(Tags=tag("5"))
    try:
        proc = deployed.plan_exitcode("-refresh=false", "-lock=false", "-var=master_count=5")
        assert proc.returncode == 2, (proc.stdout + proc.stderr)[-3000:]
    finally:
        asg.create_or_update_tags(Tags=tag("3"))
    proc = deployed.plan_exitcode("-refresh=false", "-lock=false")
    assert proc.returncode in (0, 2) and "master_count cannot change" not in proc.stdout + proc.stderr


def test_an_edited_group_description_or_prefix_replaces_no_group(deployed, tf_copy):
    """Security groups' description and name_prefix force a replacement in the provider: a
    developer editing either text must not make the next apply replace groups in use."""
    root, _ = tf_copy
    main = root / "modules/security_groups/main.tf"
    original = main.read_text()
    edited = original.replace('master       = "Mesos masters"', 'master       = "Mesos masters (edited)"')
    edited = edited.replace('name_prefix = "${var.name}-${replace(each.key, "_", "-")}-"', 'name_prefix = "${var.name}-sg-${replace(each.key, "_", "-")}-"')
    assert edited.count("(edited)") == 1 and "-sg-" in edited
    main.write_text(edited)
    try:
        plan = deployed.dir / "edited.tfplan"
        proc = deployed.plan_exitcode("-refresh=false", f"-out={plan}")
        assert proc.returncode in (0, 2), proc.stdout[-3000:] + proc.stderr[-3000:]
        shown = json.loads(deployed._tf("show", "-json", str(plan)).stdout)
    finally:
        main.write_text(original)
    replaced = [rc["address"] for rc in shown.get("resource_changes", [])
                if rc["type"] == "aws_security_group" and "delete" in rc["change"]["actions"]]
    assert replaced == []


def test_existing_vpc_must_say_how_nodes_reach_the_aws_apis(deployed, tmp_path):
    """With an existing VPC the nodes' HTTPS egress went to the VPC's CIDR only: behind a NAT
    (no interface endpoints) no node reaches EC2 or Auto Scaling, and every hook is abandoned.
    Validation refuses an existing VPC that names neither path; api_egress_cidr_blocks opens 443
    to it for every node group and the autoscaler."""
    vpc = {
        "vpc_id": "vpc-0123abcd", "cidr_block": "10.50.0.0/16", "private_subnet_ids": ["subnet-0aaa", "subnet-0bbb"],
        "s3_endpoint_id": "vpce-0123abcd", "s3_prefix_list_id": "pl-63a5400a",
    }
    bare = tmp_path / "bare.tfvars.json"
    bare.write_text(json.dumps({"existing_vpc": vpc}))
    proc = deployed.plan_exitcode("-refresh=false", "-lock=false", f"-var-file={bare}")
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1 and "existing_vpc must say how the nodes reach the EC2, Auto Scaling and STS APIs" in out, out[-3000:]
    nat = tmp_path / "nat.tfvars.json"
    nat.write_text(json.dumps({"existing_vpc": dict(vpc, api_egress_cidr_blocks=["0.0.0.0/0"])}))
    plan = deployed.dir / "nat.tfplan"
    proc = deployed.plan_exitcode("-refresh=false", "-lock=false", f"-var-file={nat}", f"-out={plan}")
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = json.loads(deployed._tf("show", "-json", str(plan)).stdout)
    api = sorted(rc["index"] for rc in shown["resource_changes"]
                 if rc["type"] == "aws_vpc_security_group_egress_rule" and rc["name"] == "api"
                 and rc["change"]["after"]["from_port"] == 443 and rc["change"]["after"]["cidr_ipv4"] == "0.0.0.0/0")
    assert api == [f"{g}_0.0.0.0/0" for g in ("agent", "autoscaler", "master", "zookeeper")]
    endpoints = tmp_path / "endpoints.tfvars.json"
    endpoints.write_text(json.dumps({"existing_vpc": dict(vpc, interface_endpoints=True)}))
    proc = deployed.plan_exitcode("-refresh=false", "-lock=false", f"-var-file={endpoints}")
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_pruned_backups_and_their_delete_markers_expire(deployed):
    """serve writes a backup set a minute while the zxid moves and prunes old sets: with the
    bucket's versioning every pruned object stayed 90 days as a noncurrent version, with a
    delete marker that never expired. The backups' own rule expires them after a day."""
    rules = deployed.moto.client("s3").get_bucket_lifecycle_configuration(Bucket=DOMAIN)["Rules"]
    backups = [r for r in rules if r.get("Filter", {}).get("Prefix") == f"{SHARED_CONFIG_KEY}.backups/"]
    assert len(backups) == 1, rules
    (rule,) = backups
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 1
    assert rule["Expiration"] == {"ExpiredObjectDeleteMarker": True}


def test_alarms_notify_the_topic(deployed):
    """With alarm_sns_topic_arn: an alarm per NLB target group on unhealthy targets, one per
    group when fewer instances are InService than desired, one on the autoscaler's errors; each
    notifies the topic both ways."""
    cw = deployed.moto.client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=f"{CLUSTER}-")["MetricAlarms"]}
    want = {f"{CLUSTER}-{tg}-unhealthy-targets" for tg in ("master", "zk-client", "zk-api", "zk-tls")}
    want |= {f"{CLUSTER}-{role}-below-desired" for role in ROLES} | {f"{CLUSTER}-autoscaler-errors"}
    assert set(alarms) == want
    for name, a in alarms.items():
        assert a["AlarmActions"] == [ALARM_TOPIC] and a["OKActions"] == [ALARM_TOPIC], name
    tg = alarms[f"{CLUSTER}-zk-client-unhealthy-targets"]
    assert (tg["Namespace"], tg["MetricName"], tg["ComparisonOperator"], tg["Threshold"]) == (
        "AWS/NetworkELB", "UnHealthyHostCount", "GreaterThanThreshold", 0.0)
    dims = {d["Name"]: d["Value"] for d in tg["Dimensions"]}
    # (AWS names an NLB's ARN suffix net/<name>/<id>; moto says app/ for every load balancer)
    assert dims["TargetGroup"].startswith(f"targetgroup/{CLUSTER}-z2181-")
    assert dims["LoadBalancer"].split("/")[1] == f"{CLUSTER}-zookeeper", dims
    low = alarms[f"{CLUSTER}-master-below-desired"]
    exprs = {q["Id"]: q for q in low["Metrics"]}
    assert exprs["missing"]["Expression"] == "desired - in_service"
    assert exprs["in_service"]["MetricStat"]["Metric"]["MetricName"] == "GroupInServiceInstances"
    assert {d["Value"] for d in exprs["in_service"]["MetricStat"]["Metric"]["Dimensions"]} == {f"{CLUSTER}-master"}
    assert low["EvaluationPeriods"] * 60 > 900, "must outlast a launch held by the 15-minute hook"
    err = alarms[f"{CLUSTER}-autoscaler-errors"]
    assert (err["Namespace"], err["MetricName"]) == ("AWS/Lambda", "Errors")


def test_one_character_over_the_name_limits_fails_validation(deployed):
    """The applied sample uses the longest names validation accepts (CLUSTER, TOP_FQDN: the
    provider's own length checks and moto's accepted them). One character more fails the plan
    in validation, before any API call, naming the limit. Also refused there: an instance tag
    key EC2 rejects with metadata tags on, and a capacity wait shorter than the hook timeout."""
    proc = deployed.plan_exitcode(
        "-refresh=false", f"-var=cluster_name={CLUSTER}x", f"-var=top_fqdn={TOP_FQDN[1:]}", '-var=tags={"team/owner"="x"}'
    )
    out = " ".join((proc.stdout + proc.stderr).split())  # terraform wraps its messages
    assert proc.returncode == 1, out[-3000:]
    assert "cluster_name must be 2-19 characters" in out and "load balancer name" in out, out[-3000:]
    assert "tags: keys must be" in out, out[-3000:]
    assert "the bucket name" not in out, out[-3000:]  # 20 + 1 + 42 = 63 is fine
    proc = deployed.plan_exitcode("-refresh=false", f"-var=top_fqdn=x{TOP_FQDN}", "-var=wait_for_capacity_timeout=15m")
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, out[-3000:]
    assert "is the bucket name and may have at most 63 characters" in out, out[-3000:]
    assert "wait_for_capacity_timeout must be 0 or a duration (like 35m) longer than the launch hook's timeout" in out, out[-3000:]
    assert "cluster_name must be" not in out


def test_destroy_leaves_nothing(deployed):
    """Runs last in this file: the destroy procedure of terraform/README.md on the sample
    applied with the defaults (NLB deletion protection on, no force_destroy) and a versioned
    object in the bucket, then checks that nothing of it is left."""
    vpc_id = deployed.outputs["vpc_id"]
    s3 = deployed.moto.client("s3")
    elb = deployed.moto.client("elbv2")
    # moto applies the bucket policy's Deny to object calls but ignores its conditions (the
    # exempt Terraform caller, aws:SourceVpce): on AWS the caller may write and, with
    # force_destroy, delete the objects. So the test lifts the policy around its own object
    # calls and around the destroy; everything else is the documented procedure.
    s3.delete_bucket_policy(Bucket=DOMAIN)
    for body in (b"a=1\n", b"a=2\n"):  # two versions of the shared config
        s3.put_object(Bucket=DOMAIN, Key="exhibitor/exhibitor.properties", Body=body)
    assert len(s3.list_object_versions(Bucket=DOMAIN)["Versions"]) == 2

    def protection():
        return {
            lb["LoadBalancerName"]: {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}["deletion_protection.enabled"]
            for lb in elb.describe_load_balancers()["LoadBalancers"]
        }

    assert set(protection().values()) == {"true"}
    # Without step 1 the bucket (versioned, not empty) cannot go: moto refuses it as AWS does.
    # (moto does not refuse to delete a protected NLB; AWS does: see the README's list.)
    with pytest.raises(Exception, match="BucketNotEmpty"):
        s3.delete_bucket(Bucket=DOMAIN)
    deployed.unprotect()
    assert set(protection().values()) == {"false"}
    s3.delete_bucket_policy(Bucket=DOMAIN)  # moto only, see above
    deployed.destroy()
    m = deployed.moto
    ec2 = m.client("ec2")
    assert m.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert m.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert m.client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert m.client("s3").list_buckets()["Buckets"] == []
    assert m.client("route53").list_hosted_zones()["HostedZones"] == []
    assert m.client("lambda").list_functions()["Functions"] == []
    assert m.client("events").list_rules()["Rules"] == []
    iam = m.client("iam")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(CLUSTER)] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
    # moto keeps deleted endpoints, in state "deleted"
    assert [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"].lower() != "deleted"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(CLUSTER)] == []
    instances = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    assert [i for i, state in instances.items() if state not in ("terminated", "shutting-down")] == []
    # No ENI survives: neither the endpoints' nor the Lambda's. moto keeps the primary ENI of a
    # terminated instance (AWS deletes it with the instance), so those are not counted.
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkInterfaces"]
    left = [
        (e["NetworkInterfaceId"], e.get("Description"))
        for e in enis
        if instances.get(e.get("Attachment", {}).get("InstanceId")) != "terminated"
    ]
    assert left == []
    assert m.client("logs").describe_log_groups()["logGroups"] == []
    kms = m.client("kms")
    metas = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    ours = [(k["KeyId"], k["KeyState"]) for k in metas if k.get("Description", "").startswith(f"Mesos cluster {CLUSTER}:")]
    assert ours and all(state == "PendingDeletion" for _, state in ours), metas
    assert [a["AliasName"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/mesos-{CLUSTER}"] == []


################################################################################
# checkov
################################################################################


def _checkov() -> str | None:
    for c in (os.environ.get("CHECKOV"), str(REPO / ".venv-checkov/bin/checkov"), shutil.which("checkov")):
        if c and os.access(c, os.X_OK):
            return c
    return None


@pytest.mark.skipif(_checkov() is None, reason="checkov is not installed (CHECKOV, <repo>/.venv-checkov/bin/checkov or PATH)")
def test_checkov_zero_failed():
    """checkov over terraform/: no failed check (suppressions are inline, each with its reason).

    --skip-download: checkov otherwise fetches guideline mappings from its vendor's API.
    """
    proc = subprocess.run(
        [_checkov(), "-d", str(TF_DIR), "--framework", "terraform", "--quiet", "--compact", "--skip-download"],
        capture_output=True,
        text=True,
        env=dict(os.environ, BC_SKIP_MAPPING="TRUE"),
        timeout=300,
    )
    assert proc.returncode == 0, f"checkov failed checks:\n{proc.stdout[-8000:]}{proc.stderr[-2000:]}"


################################################################################
# packer
################################################################################

PACKER = shutil.which("packer")
needs_packer = pytest.mark.skipif(PACKER is None, reason="packer is not installed (apt-get install packer)")


@needs_packer
def test_packer_fmt():
    for d in (REPO / "packer", REPO / "packer/mesos-deb"):
        proc = subprocess.run([PACKER, "fmt", "-check", "-diff", str(d)], capture_output=True, text=True)
        assert proc.returncode == 0, f"packer fmt -check {d}:\n{proc.stdout}{proc.stderr}"


def _packer_version() -> tuple[int, int]:
    import re

    out = subprocess.run([PACKER, "version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _checkout_for_packer(tmp_path: Path) -> Path:
    """The repository as Packer sees it. Packer < 1.7 (Debian 12's 1.6.6, CI's) does not know
    `required_plugins` (plugins.pkr.hcl, for Packer >= 1.10): there, a copy of packer/ without
    those files, beside links to what the templates reach through path.root."""
    if _packer_version() >= (1, 7):
        return REPO
    root = tmp_path / "checkout"
    if not root.exists():
        shutil.copytree(REPO / "packer", root / "packer", ignore=shutil.ignore_patterns("plugins.pkr.hcl", "out"))
        for d in ("systemd", "bootstrap", "target"):
            (root / d).symlink_to(REPO / d)
    return root


def _packer_validate(tmp_path, cwd, *args):
    """`packer validate ARGS .` in `cwd` (a directory of the repository)."""
    cwd = _checkout_for_packer(tmp_path) / Path(cwd).relative_to(REPO)
    env = dict(os.environ, CHECKPOINT_DISABLE="1", PACKER_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run([PACKER, "validate", *args, "."], cwd=cwd, capture_output=True, text=True, env=env)


@needs_packer
def test_packer_validate(tmp_path):
    binary = tmp_path / "mesos-boot"
    binary.write_text("#!/bin/sh\n")  # the file provisioner needs a source; the real one is built by cargo
    deb = tmp_path / "mesos_1.11.0-1_amd64.deb"  # step 1's output (packer/mesos-deb)
    deb.write_text("placeholder\n")
    (tmp_path / "mesos_1.11.0-1_amd64.deb.sha256").write_text(f"{'0' * 64}  {deb.name}\n")
    proc = _packer_validate(tmp_path, REPO / "packer", "-var", f"mesos_boot_binary={binary}", "-var", f"mesos_deb={deb}")
    assert proc.returncode == 0, f"packer validate:\n{proc.stdout}{proc.stderr}"
    # Step 1: Mesos from the Apache source release, pinned version and checksum.
    proc = _packer_validate(tmp_path, REPO / "packer/mesos-deb")
    assert proc.returncode == 0, f"packer validate mesos-deb:\n{proc.stdout}{proc.stderr}"
    variables = (REPO / "packer/mesos-deb/variables.pkr.hcl").read_text()
    assert 'default     = "https://archive.apache.org/dist/mesos/1.11.0/mesos-1.11.0.tar.gz"' in variables
    assert 'default     = "ce08cb648a21502a4a0c45d240a596d9ac860fcaf717f9a3dc986da9d406fe34"' in variables


@needs_packer
def test_packer_without_mesos_fails_fast_and_keeps_build_tools_out(tmp_path):
    """No Mesos given: validation (which `packer build` runs before launching anything) fails
    naming the variable and how to produce it. The image's script installs only the .deb."""
    binary = tmp_path / "mesos-boot"
    binary.write_text("#!/bin/sh\n")
    proc = _packer_validate(tmp_path, REPO / "packer", "-var", f"mesos_boot_binary={binary}")
    out = " ".join((proc.stdout + proc.stderr).split())  # packer wraps its messages
    assert proc.returncode != 0
    assert "Bad source './mesos-deb/out/mesos_1.11.0-1_amd64.deb'" in out and "no such file" in out, out
    script = (REPO / "packer/scripts/mesos.sh").read_text()
    assert "build-essential" not in script and "make" not in script.split("for tool in")[0]
    assert "apt-get -y install --no-install-recommends /tmp/mesos.deb" in script


################################################################################
# systemd
################################################################################

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
UNITS = sorted(p.name for p in (REPO / "systemd").glob("*.service"))


def test_systemd_units_present():
    assert set(UNITS) >= {
        "mesos-boot@.service",
        "mesos-boot-serve.service",
        "zookeeper.service",
        "mesos-master.service",
        "mesos-agent.service",
    }


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)")
def test_systemd_analyze_verify(tmp_path):
    """`systemd-analyze verify` of every unit, with stub executables at the paths the units name.

    verify checks that each Exec*= binary exists; the real ones (mesos-boot, java, mesos-*) live
    only in the machine image, so --root points at a tree holding stubs and the units.
    """
    root = tmp_path / "root"
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    for u in UNITS:
        shutil.copy(REPO / "systemd" / u, unit_dir / u)
    for exe in ("usr/local/bin/mesos-boot", "usr/bin/java", "usr/sbin/mesos-master", "usr/sbin/mesos-agent"):
        p = root / exe
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
    # A template is verified through instances of it.
    targets = [u for u in UNITS if not u.endswith("@.service")] + [
        f"mesos-boot@{r}.service" for r in ROLES
    ]
    for t in targets:
        if "@" in t:
            (unit_dir / t).symlink_to("mesos-boot@.service")
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", f"--root={root}", "--man=no", "--recursive-errors=no", *[str(unit_dir / t) for t in targets]],
        capture_output=True,
        text=True,
        env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and out.strip() == "", f"systemd-analyze verify:\n{out}"
