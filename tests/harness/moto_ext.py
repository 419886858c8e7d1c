"""moto_server, plus the Auto Scaling lifecycle-hook behaviour moto 5.2.5 lacks.

CompleteLifecycleAction and RecordLifecycleActionHeartbeat are checked against moto's own
state as AWS checks them (the group exists, the hook exists on that group, the instance is in
the group and waits on that hook, the result is CONTINUE or ABANDON); the instance is named by
InstanceId (no notification carries a LifecycleActionToken here). A completion or heartbeat
for an instance with no pending action (already InService: a reboot; already terminated) is
refused with AWS's ValidationError "No active Lifecycle Action found with instance ID ...".
CreateAutoScalingGroup also creates the group's initial lifecycle hooks
(LifecycleHookSpecificationList, what Terraform's initial_lifecycle_hook sends), which moto
ignores.

Launch hooks (autoscaling:EC2_INSTANCE_LAUNCHING): an instance launched into a group with one
waits in Pending:Wait until the hook is completed: CONTINUE makes it InService; ABANDON makes
it Terminating and Unhealthy, as Auto Scaling does before replacing it. Instances waiting on a
launch hook count toward the group's capacity (moto would otherwise launch more). Their
heartbeat timeout is not applied.

Termination hooks (autoscaling:EC2_INSTANCE_TERMINATING), as AWS documents them: an instance
the group removes while it has one -- a lower desired capacity (SetDesiredCapacity,
UpdateAutoScalingGroup, the Terraform drain before a delete), TerminateInstanceInAutoScalingGroup
with or without ShouldDecrementDesiredCapacity -- is deregistered from the group's target
groups and waits in Terminating:Wait (DescribeAutoScalingGroups/DescribeAutoScalingInstances
show it), its EC2 instance still running. It no longer counts toward the desired capacity:
without a decrement the replacement is launched at once. Then:
* CompleteLifecycleAction CONTINUE: that hook is done; once every termination hook of the
  group is, the instance goes through Terminating:Proceed: its EC2 instance is terminated and it
  leaves the group. ABANDON terminates it at once, whatever other hooks are pending.
* RecordLifecycleActionHeartbeat restarts the hook's timeout (heartbeat_timeout from now, never
  past the global timeout: 48 h or 100 heartbeat timeouts from the start of the wait).
* At the timeout the hook's DefaultResult applies (CONTINUE or ABANDON: both terminate, for a
  termination hook). The timeout is applied lazily, before every Auto Scaling or EC2 request.
* DeleteLifecycleHook completes its pending termination actions with CONTINUE (as AWS does).
* DeleteAutoScalingGroup terminates every instance of the group at once, those waiting on a
  hook included (ForceDelete; moto deletes a group with instances without it too), and deletes
  the group's lifecycle hooks with it (moto keeps them, and a new group of the same name would
  inherit them).
Without a termination hook, instances are terminated at once as before. An instance terminated
through EC2 (TerminateInstances) leaves its group at once, waiting or not (moto's behaviour).
Moto accepts heartbeat timeouts under AWS's minimum of 30 s; tests use that.

S3 conditional writes (PutObject, DeleteObject with If-Match or If-None-Match) are atomic, as
AWS documents them (S3 user guide, "Add preconditions to S3 operations with conditional
requests"): of concurrent conditional writes to one key, one succeeds and the others get 412
PreconditionFailed. moto checks the condition and then writes, two steps that the threads of
moto_server interleave: two `If-None-Match: *` creates could both succeed. Here every object
write and delete runs one at a time.

Nothing else of moto changes.

Usage (the test harness runs it in place of moto_server): python3 moto_ext.py [moto_server args]
"""

import sys
import threading
import time

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, TerminateInstanceActivity
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
from moto.ec2.responses import EC2Response
from moto.s3.responses import S3Response
from moto.server import main

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LEAVE_WAIT = "Terminating:Wait"
GLOBAL_TIMEOUT = 48 * 3600

# moto_server is threaded: the lifecycle state changes here (and the timeouts they check) run
# one at a time.
_LOCK = threading.RLock()


def _hooks(group, transition):
    return [
        h
        for h in group.autoscaling_backend.lifecycle_hooks.values()
        if h.auto_scaling_group_name == group.name and h.lifecycle_transition == transition
    ]


def _has_launch_hook(group):
    return bool(_hooks(group, LAUNCHING))


def _no_action(instance_id):
    return ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")


################################################################################
# Termination: Terminating:Wait, Terminating:Proceed
################################################################################


def _deadline(hook, state, now):
    """When `hook`'s wait for `state` ends, restarted at `now`."""
    cap = state.leave_started + min(GLOBAL_TIMEOUT, 100 * hook.heartbeat_timeout)
    return min(now + hook.heartbeat_timeout, cap)


def _start_leaving(group, states):
    """Takes `states` out of service into Terminating:Wait on the group's termination hooks:
    deregistered from the target groups, the EC2 instances left running."""
    hooks = _hooks(group, TERMINATING)
    now = time.monotonic()
    for s in states:
        s.lifecycle_state = LEAVE_WAIT
        s.leave_started = now
        s.leave_pending = {h.name: _deadline(h, s, now) for h in hooks}
        for arn in group.target_group_arns:
            tg = group.autoscaling_backend.elbv2_backend.target_groups.get(arn)
            if tg is not None and s.instance.id in tg.targets:
                tg.deregister([{"Id": s.instance.id}])


def _proceed(group, state):
    """Terminating:Proceed: the EC2 instance is terminated and leaves the group."""
    state.lifecycle_state = "Terminating:Proceed"
    backend = group.autoscaling_backend
    backend.ec2_backend.terminate_instances([state.instance.id])
    backend.elbv2_backend.notify_terminate_instances([state.instance.id])
    group.instance_states = [s for s in group.instance_states if s is not state]


def _leave_result(group, state, hook_name, result):
    """A termination hook's result (completion, timeout or deleted hook) for `state`."""
    if result == "ABANDON":
        _proceed(group, state)
        return
    state.leave_pending.pop(hook_name, None)
    if not state.leave_pending:
        _proceed(group, state)


def _expire(backend):
    """Applies the DefaultResult of every termination hook whose timeout has passed."""
    now = time.monotonic()
    for group in list(backend.autoscaling_groups.values()):
        for s in list(group.instance_states):
            if s.lifecycle_state != LEAVE_WAIT:
                continue
            for name, deadline in sorted(s.leave_pending.items(), key=lambda kv: kv[1]):
                if deadline > now:
                    continue
                hook = backend.lifecycle_hooks.get(f"{group.name}_{name}")
                _leave_result(group, s, name, hook.default_result if hook else "CONTINUE")
                if s not in group.instance_states:
                    break


_set_desired_capacity = FakeAutoScalingGroup.set_desired_capacity


def set_desired_capacity(self, new_capacity):
    if _hooks(self, TERMINATING) and not self.mixed_instances_policy:
        desired = (self.min_size if new_capacity is None else new_capacity) or 0
        active = self.active_instances()
        surplus = len(active) - desired
        if surplus > 0:
            victims = [s for s in active if not s.protected_from_scale_in][:surplus]
            _start_leaving(self, victims)
            if len(victims) < surplus:
                # The rest is protected from scale-in: it stays. moto's own scale-in would take
                # the instances now waiting instead, so it is not called.
                self.desired_capacity = new_capacity if new_capacity is not None else self.min_size
                if self.name in self.autoscaling_backend.autoscaling_groups:
                    self.autoscaling_backend.update_attached_elbs(self.name)
                    self.autoscaling_backend.update_attached_target_groups(self.name)
                return
    # Now as many active instances as desired (or fewer): moto only launches, if anything.
    _set_desired_capacity(self, new_capacity)


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


FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity
FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances
FakeAutoScalingGroup.active_instances = active_instances


_terminate_instance = AutoScalingBackend.terminate_instance


def terminate_instance(self, instance_id, should_decrement):
    state = next(
        (s for g in self.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id),
        None,
    )
    group = state.auto_scaling_group if state is not None else None
    if group is None or not _hooks(group, TERMINATING):
        return _terminate_instance(self, instance_id, should_decrement)
    original_size = group.desired_capacity
    if not state.lifecycle_state.startswith("Terminating"):
        if should_decrement:
            group.desired_capacity = original_size - 1
        _start_leaving(group, [state])
        # Not decremented: the replacement is launched now, while this one waits.
        group.set_desired_capacity(group.desired_capacity)
    return TerminateInstanceActivity(state.instance, original_size)


_delete_lifecycle_hook = AutoScalingBackend.delete_lifecycle_hook


def delete_lifecycle_hook(self, as_name, name):
    group = self.autoscaling_groups.get(as_name)
    if group is not None:
        for s in list(group.instance_states):
            if s.lifecycle_state == LEAVE_WAIT and name in s.leave_pending:
                _leave_result(group, s, name, "CONTINUE")
    _delete_lifecycle_hook(self, as_name, name)


_delete_group = AutoScalingBackend.delete_auto_scaling_group


def delete_auto_scaling_group(self, group_name):
    group = self.autoscaling_groups.get(group_name)
    if group is not None:
        for key in [k for k, h in self.lifecycle_hooks.items() if h.auto_scaling_group_name == group_name]:
            del self.lifecycle_hooks[key]
        for s in [s for s in group.instance_states if s.lifecycle_state == LEAVE_WAIT]:
            _proceed(group, s)
    _delete_group(self, group_name)


_update_attached_target_groups = AutoScalingBackend.update_attached_target_groups


def update_attached_target_groups(self, group_name):
    """moto registers every instance of the group; one in Terminating:Wait was deregistered."""
    group = self.autoscaling_groups[group_name]
    kept = group.instance_states
    group.instance_states = [s for s in kept if s.lifecycle_state != LEAVE_WAIT]
    try:
        _update_attached_target_groups(self, group_name)
    finally:
        group.instance_states = kept


AutoScalingBackend.terminate_instance = terminate_instance
AutoScalingBackend.delete_lifecycle_hook = delete_lifecycle_hook
AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group
AutoScalingBackend.update_attached_target_groups = update_attached_target_groups


################################################################################
# The lifecycle actions
################################################################################


def _lifecycle_action(self):
    """(group, instance state, hook) of the pending action the request names."""
    group_name = self._get_param("AutoScalingGroupName")
    hook_name = self._get_param("LifecycleHookName")
    instance_id = self._get_param("InstanceId")
    backend = self.autoscaling_backend
    group = backend.autoscaling_groups.get(group_name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - {group_name}")
    hook = backend.lifecycle_hooks.get(f"{group_name}_{hook_name}")
    if hook is None:
        raise ValidationError(f"No Lifecycle Hook found with name {hook_name} for group {group_name}")
    state = next((s for s in group.instance_states if s.instance.id == instance_id), None)
    if state is None:
        raise _no_action(instance_id)
    if state.lifecycle_state == "Pending:Wait" and hook.lifecycle_transition == LAUNCHING:
        return group, state, hook
    if state.lifecycle_state == LEAVE_WAIT and hook.name in state.leave_pending:
        return group, state, hook
    raise _no_action(instance_id)


def complete_lifecycle_action(self):
    group, state, hook = _lifecycle_action(self)
    result = self._get_param("LifecycleActionResult")
    if result not in ("CONTINUE", "ABANDON"):
        raise ValidationError(f"LifecycleActionResult must be CONTINUE or ABANDON, not {result}")
    if state.lifecycle_state == LEAVE_WAIT:
        _leave_result(group, state, hook.name, result)
    elif result == "CONTINUE":
        state.lifecycle_state = "InService"
    else:
        state.lifecycle_state = "Terminating"
        state.health_status = "Unhealthy"
    return EmptyResult()


def record_lifecycle_action_heartbeat(self):
    _, state, hook = _lifecycle_action(self)
    if state.lifecycle_state == LEAVE_WAIT:
        state.leave_pending[hook.name] = _deadline(hook, state, time.monotonic())
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


_autoscaling_call = AutoScalingResponse.call_action
_ec2_call = EC2Response.call_action


def autoscaling_call_action(self):
    with _LOCK:
        _expire(self.autoscaling_backend)
        return _autoscaling_call(self)


def ec2_call_action(self):
    from moto.autoscaling import autoscaling_backends

    with _LOCK:
        _expire(autoscaling_backends[self.current_account][self.region])
    return _ec2_call(self)


# Object writes and deletes: the condition and the write in one step (see the docstring).
_S3_WRITES = threading.Lock()
_s3_put_object = S3Response.put_object
_s3_delete_object = S3Response.delete_object


def s3_put_object(self):
    with _S3_WRITES:
        return _s3_put_object(self)


def s3_delete_object(self):
    with _S3_WRITES:
        return _s3_delete_object(self)


S3Response.put_object = s3_put_object
S3Response.delete_object = s3_delete_object
AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group
AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat
AutoScalingResponse.call_action = autoscaling_call_action
EC2Response.call_action = ec2_call_action

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
