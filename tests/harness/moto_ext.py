"""moto_server, plus the Auto Scaling lifecycle-hook actions moto 5.2.5 lacks.

CompleteLifecycleAction and RecordLifecycleActionHeartbeat are checked against moto's own
state as AWS checks them (the group exists, the hook exists on that group, the instance is in
the group, the result is CONTINUE or ABANDON). CONTINUE leaves the instance InService;
ABANDON makes it Terminating and Unhealthy, as Auto Scaling does before replacing it.
CreateAutoScalingGroup also creates the group's initial lifecycle hooks
(LifecycleHookSpecificationList, what Terraform's initial_lifecycle_hook sends), which moto
ignores. Nothing else of moto changes.

Usage (the test harness runs it in place of moto_server): python3 moto_ext.py [moto_server args]
"""

import sys

from moto.autoscaling.exceptions import ValidationError
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
    if state is None:
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
    return state


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
    for spec in self._get_param("LifecycleHookSpecificationList") or []:
        self.autoscaling_backend.create_lifecycle_hook(
            name=spec["LifecycleHookName"],
            as_name=group,
            transition=spec["LifecycleTransition"],
            timeout=spec.get("HeartbeatTimeout"),
            result=spec.get("DefaultResult"),
        )
    return result


AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group
AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
