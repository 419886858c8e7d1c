"""moto_server, plus the resource ARN of the Auto Scaling calls that IAM scopes to a group.

With IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT, or POST /moto-api/reset-auth), moto
5.2.5 authorizes every non-S3, non-IAM/STS/SQS call against the resource "*": a statement whose
Resource names a group (the autoscaler's ResizeAgents, the nodes' CompleteOwnLifecycleHooks)
never matches, so an exactly-scoped grant is denied, and a call on the wrong group is denied for
the wrong reason. Here, moto's own evaluator gets the ARN of the group the call names, as AWS
evaluates it (SetDesiredCapacity, TerminateInstanceInAutoScalingGroup, CreateOrUpdateTags,
DeleteTags, UpdateAutoScalingGroup, the lifecycle-hook calls), and EC2 CreateTags/DeleteTags on
instances get an instance ARN (the autoscaler's idle and drain marks; the ARNs of the instances
of one call differ only in the id, and moto evaluates no condition, so one stands for all);
Describe* stay "*" (AWS supports no resource-level restriction there).

Also, moto checks a request's SigV4 signature against a canonical request it rebuilds; for a
form-encoded body (the query protocol: Auto Scaling, EC2, IAM, STS) it re-encodes the parsed
form with botocore's quoting, not the bytes that were signed, so a request of the Rust SDK
whose values need quoting (the autoscaler's state tag `out=... stg=0` has a space) fails with
SignatureDoesNotMatch. Here the signature is checked over the body as received.

Without enforcement nothing changes: moto evaluates no policy and no signature at all.
Nothing else of moto changes.

Usage (tests/terraform runs it in place of moto_server): python moto_iam.py [moto_server args]
"""

import io
import sys

from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import BaseResponse
from moto.ec2.responses import EC2Response
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

_BY_GROUP_NAME = {
    "SetDesiredCapacity", "UpdateAutoScalingGroup", "DeleteAutoScalingGroup", "CompleteLifecycleAction",
    "RecordLifecycleActionHeartbeat", "PutLifecycleHook", "DeleteLifecycleHook", "SuspendProcesses",
    "ResumeProcesses", "AttachInstances", "DetachInstances", "SetInstanceHealth",
}


def _determine_resource(self) -> str:
    try:
        action = self._get_action()
        backend = self.autoscaling_backend
        if action in _BY_GROUP_NAME:
            name = self._get_param("AutoScalingGroupName")
        elif action in ("CreateOrUpdateTags", "DeleteTags"):
            names = {t.get("ResourceId") for t in self._get_param("Tags", [])}
            if len(names) != 1:
                return "*"  # tags of several groups: not a case the project has
            (name,) = names
        elif action == "TerminateInstanceInAutoScalingGroup":
            instance = self._get_param("InstanceId")
            name = next(
                (g.name for g in backend.autoscaling_groups.values()
                 if any(s.instance.id == instance for s in g.instance_states)),
                None,
            )
        else:
            return "*"
        group = backend.autoscaling_groups.get(name)
        return group.arn if group else "*"
    except Exception:  # never break a call: fall back to moto's own behaviour
        return "*"


AutoScalingResponse._determine_resource = _determine_resource


def _ec2_determine_resource(self) -> str:
    try:
        if self._get_action() in ("CreateTags", "DeleteTags"):
            ids = self._get_param("Resources", [])
            if ids and all(str(i).startswith("i-") for i in ids):
                return f"arn:{self.partition}:ec2:{self.region}:{self.current_account}:instance/{ids[0]}"
    except Exception:
        pass
    return "*"


EC2Response._determine_resource = _ec2_determine_resource

_RAW_BODY = "moto_iam.raw_body"
_dispatch = DomainDispatcherApplication.__call__
_setup_class = BaseResponse.setup_class


def _keep_raw_body(self, environ, start_response):
    try:
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            size = int(environ.get("CONTENT_LENGTH") or 0)
            if size:
                raw = environ["wsgi.input"].read(size)
                environ["wsgi.input"] = io.BytesIO(raw)
                environ[_RAW_BODY] = raw
    except (ValueError, OSError):
        pass
    return _dispatch(self, environ, start_response)


def _setup_with_raw_body(self, request, *args, **kwargs):
    out = _setup_class(self, request, *args, **kwargs)
    raw = getattr(request, "environ", {}).get(_RAW_BODY)
    if raw and not self.raw_body:  # raw_body is only used for the signature check here
        self.raw_body = raw
    return out


DomainDispatcherApplication.__call__ = _keep_raw_body
BaseResponse.setup_class = _setup_with_raw_body

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
