"""moto_server, plus the Auto Scaling lifecycle-hook actions moto 5.2.5 lacks.

CompleteLifecycleAction and RecordLifecycleActionHeartbeat are checked against moto's own
state as AWS checks them (the group exists, the hook exists on that group, the instance is in
the group, the result is CONTINUE or ABANDON). CONTINUE leaves the instance InService;
ABANDON makes it Terminating and Unhealthy, as Auto Scaling does before replacing it.
CreateAutoScalingGroup also creates the group's initial lifecycle hooks
(LifecycleHookSpecificationList, what Terraform's initial_lifecycle_hook sends), which moto
ignores.

As on AWS, an instance launched into a group with a launch hook
(autoscaling:EC2_INSTANCE_LAUNCHING) waits in Pending:Wait until the hook is completed, and a
completion or heartbeat for an instance with no pending action (already InService: a reboot)
is refused with AWS's ValidationError "No active Lifecycle Action found with instance ID ...".
Instances waiting on a hook count toward the group's capacity (moto would otherwise launch
more). Nothing else of moto changes.

Usage (the test harness runs it in place of moto_server): python3 moto_ext.py [moto_server args]
"""

import sys

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
from moto.server import main


def _lifecycle_action(self):
    group_name = self._get_param("AutoScalingGroupName")
    hook = self._get_param("LifecycleHookName")
    instance_id = self._get_param("InstanceId")
    backend = self.autoscaling_backend
    group = backend.autoscaling_groups.get(group_name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - {group_name}")
    if f"{group_name}_{hook}" not in backend.lifecycle_hooks:
        raise ValidationError(f"No Lifecycle Hook found with name {hook} for group {group_name}")
    state = next((s for s in group.instance_states if s.instance.id == instance_id), None)
    if state is None or state.lifecycle_state not in WAITING:
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
    return state


WAITING = ("Pending:Wait", "Terminating:Wait")
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


def _has_launch_hook(group):
    hooks = group.autoscaling_backend.lifecycle_hooks.values()
    return any(
        h.auto_scaling_group_name == group.name and h.lifecycle_transition == LAUNCHING
        for h in hooks
    )


_replace_instances = FakeAutoScalingGroup.replace_autoscaling_group_instances


def replace_autoscaling_group_instances(self, count_needed, propagated_tags):
    before = {s.instance.id for s in self.instance_states}
    _replace_instances(self, count_needed, propagated_tags)
    if _has_launch_hook(self):
        for s in self.instance_states:
            if s.instance.id not in before:
                s.lifecycle_state = "Pending:Wait"


def active_instances(self):
    return [
        s
        for s in self.instance_states
        if s.lifecycle_state in ("InService", "Pending", "Pending:Wait", "Pending:Proceed")
    ]


FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances
FakeAutoScalingGroup.active_instances = active_instances


def complete_lifecycle_action(self):
    state = _lifecycle_action(self)
    result = self._get_param("LifecycleActionResult")
    if result == "CONTINUE":
        state.lifecycle_state = "InService"
    elif result == "ABANDON":
        state.lifecycle_state = "Terminating"
        state.health_status = "Unhealthy"
    else:
        raise ValidationError(f"LifecycleActionResult must be CONTINUE or ABANDON, not {result}")
    return EmptyResult()


def record_lifecycle_action_heartbeat(self):
    _lifecycle_action(self)
    return EmptyResult()


_create_auto_scaling_group = AutoScalingResponse.create_auto_scaling_group


def create_auto_scaling_group(self):
    result = _create_auto_scaling_group(self)
    group = self._get_param("AutoScalingGroupName")
    specs = self._get_param("LifecycleHookSpecificationList") or []
    for spec in specs:
        self.autoscaling_backend.create_lifecycle_hook(
            name=spec["LifecycleHookName"],
            as_name=group,
            transition=spec["LifecycleTransition"],
            timeout=spec.get("HeartbeatTimeout"),
            result=spec.get("DefaultResult"),
        )
    # The group launched its first instances before the hooks above existed in moto; on AWS
    # they were created together, so those instances wait on the launch hook too.
    fake = self.autoscaling_backend.autoscaling_groups.get(group)
    if fake is not None and _has_launch_hook(fake):
        for s in fake.instance_states:
            if s.lifecycle_state == "InService":
                s.lifecycle_state = "Pending:Wait"
    return result


AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group
AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
