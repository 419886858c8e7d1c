"""tests/harness/moto_ext.py, the moto the Rust integration tests run: its lifecycle hooks
behave as AWS documents them, through boto3 against a moto_ext server on 127.0.0.1.

The termination hook (autoscaling:EC2_INSTANCE_TERMINATING) that graceful leave relies on: a
removed instance waits in Terminating:Wait with its EC2 instance running, the replacement comes
at once, a heartbeat restarts the timeout, CompleteLifecycleAction (or the timeout's
DefaultResult) terminates it and it leaves the group; a group without one terminates at once.
And the launch hook still holds new instances in Pending:Wait.

Timeouts: moto accepts heartbeat timeouts under AWS's minimum of 30 s, so the timeout tests use
a few seconds.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from test_terraform import REGION, REPO, _free_port, _moto_server

MOTO_EXT = REPO / "tests/harness/moto_ext.py"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
NAMES = itertools.count()


def _python_of(binary: str) -> str:
    """The Python of moto_server's environment (as tests/harness/moto.rs picks it)."""
    beside = Path(binary).parent / "python3"
    if beside.is_file():
        return str(beside)
    with open(binary, "rb") as f:
        first = f.readline(500).decode(errors="replace")
    assert first.startswith("#!") and "python" in first, f"{binary} is not a Python script"
    return first[2:].split()[0]


@pytest.fixture(scope="module")
def moto_ext(tmp_path_factory):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path_factory.mktemp("moto_ext") / "moto_ext.log", "w")
    proc = subprocess.Popen(
        [_python_of(_moto_server()), str(MOTO_EXT), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_ext.py did not start on {url}; see {log.name}", pytrace=False)
                time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        log.close()


class Aws:
    def __init__(self, url: str):
        import boto3

        kw = dict(endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        self.asg = boto3.client("autoscaling", **kw)
        self.ec2 = boto3.client("ec2", **kw)
        self.elbv2 = boto3.client("elbv2", **kw)

    def group(self, size: int, hooks: list[dict] = (), initial_hooks: list[dict] = (), **extra) -> str:
        """A new group of `size` instances; `hooks` are put before the instances launch
        (PutLifecycleHook on an empty group, then the capacity, as Terraform's initial hooks
        do), `initial_hooks` are sent with CreateAutoScalingGroup."""
        name = f"g{next(NAMES)}"
        lt = self.ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=0, MaxSize=10, DesiredCapacity=0 if hooks else size,
            LaunchTemplate={"LaunchTemplateId": lt}, AvailabilityZones=[f"{REGION}a"],
            LifecycleHookSpecificationList=list(initial_hooks), **extra,
        )
        for h in hooks:
            self.asg.put_lifecycle_hook(AutoScalingGroupName=name, **h)
        if hooks:
            self.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=size)
        return name

    def describe(self, name: str) -> dict:
        (g,) = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return g

    def states(self, name: str) -> dict[str, str]:
        """Instance id -> lifecycle state, as DescribeAutoScalingGroups lists them."""
        return {i["InstanceId"]: i["LifecycleState"] for i in self.describe(name)["Instances"]}

    def in_state(self, name: str, state: str) -> list[str]:
        return sorted(i for i, s in self.states(name).items() if s == state)

    def ec2_state(self, instance_id: str) -> str:
        (r,) = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        return r["Instances"][0]["State"]["Name"]

    def complete(self, name: str, hook: str, instance_id: str, result: str = "CONTINUE"):
        return self.asg.complete_lifecycle_action(
            AutoScalingGroupName=name, LifecycleHookName=hook, InstanceId=instance_id, LifecycleActionResult=result,
        )

    def heartbeat(self, name: str, hook: str, instance_id: str):
        return self.asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=name, LifecycleHookName=hook, InstanceId=instance_id,
        )


@pytest.fixture
def aws(moto_ext) -> Aws:
    return Aws(moto_ext)


def leave_hook(name: str = "mesos-boot-left", timeout: int = 600, default: str = "CONTINUE") -> dict:
    return {"LifecycleHookName": name, "LifecycleTransition": TERMINATING, "HeartbeatTimeout": timeout,
            "DefaultResult": default}


def launch_hook(name: str = "mesos-boot-joined") -> dict:
    return {"LifecycleHookName": name, "LifecycleTransition": LAUNCHING, "HeartbeatTimeout": 900,
            "DefaultResult": "ABANDON"}


def refused(call) -> str:
    """`Code: Message` of the error a call must fail with."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response["Error"]
    return f"{err['Code']}: {err['Message']}"


def no_action(instance_id: str) -> str:
    return f"ValidationError: No active Lifecycle Action found with instance ID {instance_id}"


def test_scale_in_waits_on_the_termination_hook_until_completed(aws):
    g = aws.group(3, [leave_hook()])
    assert len(aws.in_state(g, "InService")) == 3
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=2)
    (leaving,) = aws.in_state(g, "Terminating:Wait")
    assert len(aws.in_state(g, "InService")) == 2  # no replacement: the capacity went down
    assert aws.describe(g)["DesiredCapacity"] == 2
    (listed,) = aws.asg.describe_auto_scaling_instances(InstanceIds=[leaving])["AutoScalingInstances"]
    assert (listed["LifecycleState"], listed["AutoScalingGroupName"]) == ("Terminating:Wait", g)
    assert aws.ec2_state(leaving) == "running"

    aws.heartbeat(g, "mesos-boot-left", leaving)
    assert aws.states(g)[leaving] == "Terminating:Wait"
    # Only the hook it waits on: not the group's other hooks, not another group's.
    assert refused(lambda: aws.complete(g, "no-such-hook", leaving)) == (
        f"ValidationError: No Lifecycle Hook found with name no-such-hook for group {g}")
    assert refused(lambda: aws.complete(g, "mesos-boot-left", leaving, "RETRY")).startswith("ValidationError: ")

    aws.complete(g, "mesos-boot-left", leaving, "CONTINUE")
    assert leaving not in aws.states(g)
    assert len(aws.in_state(g, "InService")) == 2
    assert aws.ec2_state(leaving) == "terminated"
    assert aws.asg.describe_auto_scaling_instances(InstanceIds=[leaving])["AutoScalingInstances"] == []
    # Done once: a second completion or heartbeat has no action left to act on.
    assert refused(lambda: aws.complete(g, "mesos-boot-left", leaving)) == no_action(leaving)
    assert refused(lambda: aws.heartbeat(g, "mesos-boot-left", leaving)) == no_action(leaving)
    # ... nor has an instance in service.
    (serving, _) = aws.in_state(g, "InService")
    assert refused(lambda: aws.complete(g, "mesos-boot-left", serving)) == no_action(serving)


def test_terminate_instance_without_decrement_replaces_it_at_once(aws):
    g = aws.group(3, [leave_hook()])
    victim = aws.in_state(g, "InService")[0]
    activity = aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    assert activity["Activity"]["Description"] == f"Terminating EC2 instance: {victim}"
    states = aws.states(g)
    assert states[victim] == "Terminating:Wait" and aws.ec2_state(victim) == "running"
    # It no longer counts toward the desired capacity: the replacement is already there.
    serving = [i for i, s in states.items() if s == "InService"]
    assert len(serving) == 3 and victim not in serving and len(states) == 4
    assert aws.describe(g)["DesiredCapacity"] == 3
    # Terminating it again changes nothing.
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    assert aws.states(g) == states
    # ABANDON terminates it too (for a termination hook both results do).
    aws.complete(g, "mesos-boot-left", victim, "ABANDON")
    assert victim not in aws.states(g) and aws.ec2_state(victim) == "terminated"
    assert len(aws.in_state(g, "InService")) == 3


def test_terminate_instance_with_decrement_and_the_drain_to_zero(aws):
    g = aws.group(3, [leave_hook()])
    victim = aws.in_state(g, "InService")[0]
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    assert aws.states(g)[victim] == "Terminating:Wait"
    assert len(aws.in_state(g, "InService")) == 2 and len(aws.states(g)) == 3
    assert aws.describe(g)["DesiredCapacity"] == 2
    # What Terraform does before deleting a group: every instance waits, none is replaced.
    aws.asg.update_auto_scaling_group(AutoScalingGroupName=g, MinSize=0, MaxSize=0, DesiredCapacity=0)
    waiting = aws.in_state(g, "Terminating:Wait")
    assert len(waiting) == 3 and len(aws.states(g)) == 3
    assert all(aws.ec2_state(i) == "running" for i in waiting)
    for i in waiting:
        aws.complete(g, "mesos-boot-left", i)
    assert aws.states(g) == {}
    assert all(aws.ec2_state(i) == "terminated" for i in waiting)


@pytest.mark.parametrize("default", ["CONTINUE", "ABANDON"])
def test_timeout_applies_the_default_result(aws, default):
    g = aws.group(2, [leave_hook(timeout=1, default=default)])
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=1)
    (leaving,) = aws.in_state(g, "Terminating:Wait")
    time.sleep(1.5)
    # Applied before any request: an EC2 one first, then the group no longer has it.
    assert aws.ec2_state(leaving) == "terminated"
    assert leaving not in aws.states(g) and len(aws.in_state(g, "InService")) == 1
    assert refused(lambda: aws.complete(g, "mesos-boot-left", leaving)) == no_action(leaving)


def test_heartbeat_restarts_the_timeout(aws):
    g = aws.group(2, [leave_hook(timeout=5)])
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=1)
    start = time.monotonic()
    (leaving,) = aws.in_state(g, "Terminating:Wait")
    time.sleep(3)
    aws.heartbeat(g, "mesos-boot-left", leaving)  # now ends 5 s from here, about 8 s from start
    time.sleep(max(0.0, start + 6.5 - time.monotonic()))
    assert aws.states(g)[leaving] == "Terminating:Wait"  # past the first timeout
    assert aws.ec2_state(leaving) == "running"
    time.sleep(max(0.0, start + 9.5 - time.monotonic()))
    assert leaving not in aws.states(g) and aws.ec2_state(leaving) == "terminated"


def test_every_termination_hook_must_continue_and_abandon_ends_them_all(aws):
    g = aws.group(3, [leave_hook("a"), leave_hook("b")])
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=1)
    first, second = aws.in_state(g, "Terminating:Wait")
    aws.complete(g, "a", first)
    assert aws.states(g)[first] == "Terminating:Wait"  # b still pending
    assert refused(lambda: aws.complete(g, "a", first)) == no_action(first)  # a is done
    aws.complete(g, "b", first)
    assert first not in aws.states(g) and aws.ec2_state(first) == "terminated"
    aws.complete(g, "a", second, "ABANDON")  # stops the remaining hooks
    assert second not in aws.states(g) and aws.ec2_state(second) == "terminated"


def test_deleting_the_hook_continues_and_deleting_the_group_terminates_all(aws):
    g = aws.group(3, [leave_hook()])
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=2)
    (leaving,) = aws.in_state(g, "Terminating:Wait")
    aws.asg.delete_lifecycle_hook(AutoScalingGroupName=g, LifecycleHookName="mesos-boot-left")
    assert leaving not in aws.states(g) and aws.ec2_state(leaving) == "terminated"
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=1)  # no hook now
    assert len(aws.states(g)) == 1

    h = aws.group(3, [leave_hook()])
    aws.asg.set_desired_capacity(AutoScalingGroupName=h, DesiredCapacity=2)
    everyone = list(aws.states(h))
    aws.asg.delete_auto_scaling_group(AutoScalingGroupName=h, ForceDelete=True)
    assert aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[h])["AutoScalingGroups"] == []
    assert {aws.ec2_state(i) for i in everyone} == {"terminated"}
    assert aws.asg.describe_lifecycle_hooks(AutoScalingGroupName=h)["LifecycleHooks"] == []


def test_leaving_instance_is_deregistered_from_target_groups(aws):
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    tg = aws.elbv2.create_target_group(Name=f"tg{next(NAMES)}", Protocol="TCP", Port=2181, VpcId=vpc,
                                       TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]

    def targets() -> set[str]:
        return {t["Target"]["Id"] for t in aws.elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}

    g = aws.group(3, [leave_hook()], TargetGroupARNs=[tg])
    assert targets() == set(aws.states(g))
    victim = aws.in_state(g, "InService")[0]
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    # Deregistered before the wait; the replacement is registered.
    assert targets() == set(aws.in_state(g, "InService")) and victim not in targets()
    aws.complete(g, "mesos-boot-left", victim)
    assert targets() == set(aws.states(g))


def test_protected_instances_stay(aws):
    g = aws.group(3, [leave_hook()])
    protected = aws.in_state(g, "InService")[:2]
    aws.asg.set_instance_protection(AutoScalingGroupName=g, InstanceIds=protected, ProtectedFromScaleIn=True)
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=0)
    (leaving,) = aws.in_state(g, "Terminating:Wait")
    assert leaving not in protected and aws.in_state(g, "InService") == sorted(protected)
    assert aws.describe(g)["DesiredCapacity"] == 0
    assert aws.ec2_state(leaving) == "running"


def test_group_without_termination_hook_terminates_at_once(aws):
    g = aws.group(3, [launch_hook()])
    for i in aws.in_state(g, "Pending:Wait"):
        aws.complete(g, "mesos-boot-joined", i)
    before = set(aws.in_state(g, "InService"))
    assert len(before) == 3
    aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=2)
    states = aws.states(g)
    assert len(states) == 2 and set(states.values()) == {"InService"}
    (gone,) = before - set(states)
    assert aws.ec2_state(gone) in ("shutting-down", "terminated")
    victim = sorted(states)[0]
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    assert victim not in aws.states(g) and aws.ec2_state(victim) in ("shutting-down", "terminated")


def test_launch_hook_still_holds_new_instances_in_pending_wait(aws):
    # Initial hooks sent with CreateAutoScalingGroup (moto ignores them) and a put one.
    for g in (aws.group(2, initial_hooks=[launch_hook(), leave_hook()]), aws.group(2, [launch_hook(), leave_hook()])):
        assert {h["LifecycleTransition"] for h in aws.asg.describe_lifecycle_hooks(AutoScalingGroupName=g)["LifecycleHooks"]} == {
            LAUNCHING, TERMINATING}
        first, second = aws.in_state(g, "Pending:Wait")
        assert len(aws.states(g)) == 2  # waiting instances count toward the capacity
        # The termination hook has no action on a launching instance.
        assert refused(lambda: aws.complete(g, "mesos-boot-left", first)) == no_action(first)
        aws.heartbeat(g, "mesos-boot-joined", first)
        aws.complete(g, "mesos-boot-joined", first, "CONTINUE")
        assert aws.states(g)[first] == "InService"
        assert refused(lambda: aws.complete(g, "mesos-boot-joined", first)) == no_action(first)  # a reboot
        aws.complete(g, "mesos-boot-joined", second, "ABANDON")
        (s,) = aws.asg.describe_auto_scaling_instances(InstanceIds=[second])["AutoScalingInstances"]
        assert (s["LifecycleState"], s["HealthStatus"]) == ("Terminating", "Unhealthy")
        # A replacement for the abandoned one launches into Pending:Wait on the next change.
        aws.asg.set_desired_capacity(AutoScalingGroupName=g, DesiredCapacity=2)
        assert len(aws.in_state(g, "Pending:Wait")) == 1
