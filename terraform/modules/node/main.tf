data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  fixed     = var.role != "agent"
  name      = "${var.cluster_name}-${var.role}"
  asg_name  = local.name
  hook_name = "mesos-boot-joined"
  role_unit = { zookeeper = "zookeeper.service", master = "mesos-master.service", agent = "mesos-agent.service" }[var.role]
  units = concat(
    ["mesos-boot@${var.role}.service"],
    var.role == "zookeeper" ? ["mesos-boot-serve.service"] : [],
  )
  attributes = join(";", [for k in sort(keys(var.attributes)) : "${k}:${var.attributes[k]}"])

  # The termination hook: on by default for ZooKeeper only, whose `serve` leaves the ensemble
  # and completes it; on the other roles nothing completes it (see the variable).
  termination_hook      = var.termination_hook != null ? var.termination_hook : var.role == "zookeeper"
  termination_hook_name = "mesos-boot-left"
  instance_refresh      = var.instance_refresh != null ? var.instance_refresh && var.role != "agent" : var.role != "agent"

  mesos_tags = merge(
    {
      "mesos:cluster"        = var.cluster_name
      "mesos:role"           = var.role
      "mesos:shared-config"  = var.shared_config_url
      "mesos:masters"        = tostring(var.masters)
      "mesos:ensemble-size"  = tostring(var.ensemble_size)
      "mesos:lifecycle-hook" = local.hook_name
    },
    var.role == "agent" && local.attributes != "" ? { "mesos:attributes" = local.attributes } : {},
    local.termination_hook ? { "mesos:termination-hook" = local.termination_hook_name } : {},
    # ZooKeeper nodes with TLS: only the name their certificate carries (TLS clients reach them
    # through the NLB's name); they talk to their peers directly.
    (var.role != "zookeeper" || local.zk_tls) && var.zk_endpoint != null ? { "mesos:zk-endpoint" = var.zk_endpoint } : {},
    local.zk_tls ? { "mesos:zk-tls" = "true" } : {},
  )
  instance_tags = merge(var.tags, local.mesos_tags, { Name = local.name })

  asg_arn_pattern = "arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.asg_name}"
  object_arn      = "${var.bucket_arn}/${var.shared_config_key}"
  # Terraform waits longer than one launch lifecycle hook: an instance that cannot join is
  # abandoned at the hook's timeout and replaced, and the wait still covers the replacement's
  # start. A shorter wait fails the first apply and taints the group (see terraform/README.md).
  wait_for_capacity_timeout = coalesce(var.wait_for_capacity_timeout, "${2 * var.lifecycle_hook_heartbeat_timeout + 300}s")

  # The ZooKeeper superuser secret that authenticates reconfig (created by mesos-boot).
  secret_key = "${var.shared_config_key}.zk-super"
  # ZooKeeper TLS (quorum and the 2281 client port): the cluster CA, created by the first
  # ZooKeeper node's mesos-boot (If-None-Match: *) and read by every member to issue its own
  # certificate. Nobody else reads it.
  zk_tls     = var.role == "zookeeper" && var.zk_tls
  tls_ca_key = "${var.shared_config_key}.zk-tls-ca"

  # The Mesos credentials beside the shared config (`<key>.<suffix>`): the masters' mesos-boot
  # creates each one once (a GetObject that finds nothing, then a PutObject with
  # If-None-Match: *) and reads all of them at every boot; the agents read theirs only.
  # ZooKeeper nodes (and the autoscaler but for mesos-scale, see modules/autoscaler) get none.
  mesos_credentials = {
    zookeeper = []
    master = [
      "zk-mesos-master",  # ZooKeeper digest credential of the masters
      "zk-mesos-agent",   # read-only ZooKeeper digest credential of the agents
      "mesos-agent",      # CRAM-MD5 credential the agents register with
      "mesos-agent-http", # HTTP credential of the agents' own operator endpoints
      "mesos-scale",      # HTTP principal of the autoscaler Lambda
      "mesos-operator",   # HTTP principal of human operators
      "mesos-framework",  # principal frameworks register with
    ]
    agent = ["zk-mesos-agent", "mesos-agent", "mesos-agent-http"]
  }
  credential_arns = [for c in local.mesos_credentials[var.role] : "${local.object_arn}.${c}"]
}

################################################################################
# IAM: least privilege per role
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${local.name}-"
  description        = "mesos-boot on the ${var.role} nodes of ${var.cluster_name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "DescribeOwnTags"
    actions   = ["ec2:DescribeTags"] # supports no resource-level restriction
    resources = ["*"]
  }

  # The launch hook and, where there is one, the termination hook: both belong to the node's own
  # group, the only resource these actions take (a hook has no ARN of its own).
  statement {
    sid       = "CompleteOwnLifecycleHooks"
    actions   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
    resources = [local.asg_arn_pattern]
  }

  statement {
    sid       = "ReadSharedConfig"
    actions   = var.role == "zookeeper" ? ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"] : ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.object_arn]
  }

  # S3 answers a missing key with 404 only to a caller that may s3:ListBucket the bucket (an
  # s3:prefix condition does not count: the GetObject request carries no prefix), else 403,
  # which mesos-boot must treat as fatal. Listing shows key names, never contents.
  statement {
    sid       = "ListBucketSoMissingKeysAre404"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
  }

  # ZooKeeper nodes tell a deleted shared config (earlier versions, a delete marker) from a new
  # cluster, and serve restores it from its newest version: the key's versions only.
  dynamic "statement" {
    for_each = var.role == "zookeeper" ? [1] : []
    content {
      sid       = "ListSharedConfigVersions"
      actions   = ["s3:ListBucketVersions"]
      resources = [var.bucket_arn]
      condition {
        test     = "StringEquals"
        variable = "s3:prefix"
        values   = [var.shared_config_key]
      }
    }
  }

  # Writers (ZooKeeper nodes: the shared config, the secret, the backups; masters: the Mesos
  # credentials) also need a data key: the bucket's default encryption is SSE-KMS.
  statement {
    sid       = "UseBucketKeyThroughS3"
    actions   = var.role == "agent" ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = var.role == "zookeeper" ? [1] : []
    content {
      sid       = "DiscoverEnsemble"
      actions   = ["ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances"] # support no resource-level restriction
      resources = ["*"]
    }
  }

  # ZooKeeper nodes only: serve's lease holder writes and prunes the backups of ZooKeeper's data
  # beside the shared config (`<key>.backups/<id>/`); `mesos-boot restore` and a restoring member
  # read them. Masters and agents never see the data.
  dynamic "statement" {
    for_each = var.role == "zookeeper" ? [1] : []
    content {
      sid       = "ZooKeeperBackups"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${var.bucket_arn}/${var.shared_config_key}.backups/*"]
    }
  }

  # ZooKeeper nodes only: masters and agents can never read the reconfig secret.
  dynamic "statement" {
    for_each = var.role == "zookeeper" ? [1] : []
    content {
      sid       = "ZooKeeperSuperSecret"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${var.bucket_arn}/${local.secret_key}"]
    }
  }

  # ZooKeeper nodes with TLS only: the cluster CA (its key issues every member's certificate).
  dynamic "statement" {
    for_each = local.zk_tls ? [1] : []
    content {
      sid       = "ZooKeeperTlsCa"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${var.bucket_arn}/${local.tls_ca_key}"]
    }
  }

  # Masters: every Mesos credential; agents: the three they use (ZooKeeper read-only digest,
  # registration, their own HTTP endpoints), never the masters', operators', frameworks' or
  # autoscaler's. ZooKeeper nodes: none.
  dynamic "statement" {
    for_each = length(local.credential_arns) > 0 ? [1] : []
    content {
      sid       = "ReadMesosCredentials"
      actions   = ["s3:GetObject"]
      resources = local.credential_arns
    }
  }

  # operator_access = "ssm": what the SSM agent calls (AmazonSSMManagedInstanceCore without its
  # parameter, document and S3 reads): register the instance, open Session Manager's channels,
  # poll and answer its messages. None of these takes a resource narrower than "*" that the
  # agent could name before it registers.
  dynamic "statement" {
    for_each = var.ssm ? [1] : []
    content {
      sid = "SessionManagerAgent"
      actions = [
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
        "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
        "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
      ]
      resources = ["*"]
    }
  }

  # Masters only: create the credentials (mesos-boot writes each with If-None-Match: *, once).
  dynamic "statement" {
    for_each = var.role == "master" ? [1] : []
    content {
      sid       = "CreateMesosCredentials"
      actions   = ["s3:PutObject"]
      resources = local.credential_arns
    }
  }

  # Masters only: the record that their replicated log (Mesos' registry) formed, read at every
  # boot and created once (If-None-Match: *) by the first master whose replica recovered; with
  # it, Mesos may no longer initialise an empty log by itself (bootstrap/src/mesos/registry.rs).
  dynamic "statement" {
    for_each = var.role == "master" ? [1] : []
    content {
      sid       = "MesosRegistryRecord"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${local.object_arn}.mesos-registry"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "mesos-boot-${var.role}"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${local.name}-"
  role        = aws_iam_role.this.name

  tags = var.tags
}

################################################################################
# Launch template
################################################################################

resource "aws_launch_template" "this" {
  name_prefix            = "${local.name}-"
  description            = "Mesos ${var.role} nodes of ${var.cluster_name}"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = var.security_group_ids
  ebs_optimized          = true
  update_default_version = true

  user_data = base64encode(templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    cluster_name    = var.cluster_name
    role            = var.role
    role_unit       = local.role_unit
    units           = local.units
    lifecycle_hook  = local.hook_name
    mesos_boot_path = var.mesos_boot_path
  }))

  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1          # no container on the node can reach IMDS through a bridge
    instance_metadata_tags      = "enabled"  # mesos-boot reads the mesos:* tags from IMDS
  }

  block_device_mappings {
    device_name = var.root_device_name
    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  # The instances' tags come from here, not from the group's tags: the group's tag blocks would
  # be authoritative and delete the autoscaler's mesos-scale:state tag at every apply.
  tag_specifications {
    resource_type = "instance"
    tags          = local.instance_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.instance_tags
  }

  tags = var.tags
}

################################################################################
# Auto Scaling group with its launch and termination lifecycle hooks
################################################################################

resource "aws_autoscaling_group" "this" {
  #checkov:skip=CKV_AWS_153:The instances' tags come from the launch template's tag_specifications and the group's from aws_autoscaling_group_tag: tag blocks here would be authoritative and delete the autoscaler's state tag
  name                = local.asg_name
  min_size            = local.fixed ? var.size : var.min_size
  max_size            = local.fixed ? var.size : var.max_size
  desired_capacity    = var.size
  vpc_zone_identifier = var.subnet_ids
  target_group_arns   = var.target_group_arns
  # ZooKeeper: EC2 health only. Its target groups' /health is 200 only with quorum, so with ELB
  # health a quorum loss would make every survivor unhealthy and the group would replace them
  # all; the target groups still route on it. Masters: /master/health is per process.
  health_check_type         = var.role != "zookeeper" && length(var.target_group_arns) > 0 ? "ELB" : "EC2"
  health_check_grace_period = var.health_check_grace_period
  wait_for_capacity_timeout = local.wait_for_capacity_timeout
  # AZRebalance terminates instances to even out the zones: agents are removed only by the
  # autoscaler, after draining them.
  suspended_processes  = var.role == "agent" ? ["AZRebalance"] : []
  termination_policies = ["OldestLaunchTemplate", "OldestInstance"]
  enabled_metrics      = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"]

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # A new launch template version rolls the group one instance at a time: a healthy share of
  # (size - 1) / size replaces exactly one, which leaves through the termination hook and whose
  # replacement must complete the launch hook (joined, ready) before the next goes.
  dynamic "instance_refresh" {
    for_each = local.instance_refresh ? [1] : []
    content {
      strategy = "Rolling"
      preferences {
        min_healthy_percentage = floor(100 * (var.size - 1) / var.size)
        max_healthy_percentage = 100
        instance_warmup        = var.health_check_grace_period
        skip_matching          = true
      }
    }
  }

  # The launch hook exists before the first instance launches only as an initial hook (the
  # provider creates the group at size 0, puts the hook, then sizes it), so the very first
  # instances already wait in Pending:Wait until mesos-boot reports that they joined. But the
  # provider makes initial_lifecycle_hook ForceNew: any edit of it (the timeout) would replace
  # the whole group, every member at once. So it is ignored after creation, and the hook of the
  # same name is managed by aws_autoscaling_lifecycle_hook.launch below (PutLifecycleHook
  # updates it in place).
  initial_lifecycle_hook {
    name                 = local.hook_name
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    default_result       = "ABANDON"
    heartbeat_timeout    = var.lifecycle_hook_heartbeat_timeout
  }

  lifecycle {
    # The autoscaler Lambda owns the agents' desired capacity; min = max pins the others.
    # The group's tags are the aws_autoscaling_group_tag resources below (non-authoritative),
    # so the autoscaler's own tag (mesos-scale:state) survives every apply.
    ignore_changes = [desired_capacity, tag, initial_lifecycle_hook]
  }

  depends_on = [aws_iam_role_policy.this]
}

# The group's own tags, for people and tools listing groups; instances get theirs from the
# launch template. One resource per tag: Terraform manages these keys and no other.
resource "aws_autoscaling_group_tag" "this" {
  for_each = local.instance_tags

  autoscaling_group_name = aws_autoscaling_group.this.name

  tag {
    key                 = each.key
    value               = each.value
    propagate_at_launch = false
  }
}

# The launch hook after the group's creation (see initial_lifecycle_hook above): same name, so
# its first apply takes over the initial hook, and a new timeout is an in-place update.
resource "aws_autoscaling_lifecycle_hook" "launch" {
  name                   = local.hook_name
  autoscaling_group_name = aws_autoscaling_group.this.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_LAUNCHING"
  default_result         = "ABANDON"
  heartbeat_timeout      = var.lifecycle_hook_heartbeat_timeout

  lifecycle {
    # A replaced group (same name, new ARN) is created with its initial hook; put this one again.
    replace_triggered_by = [aws_autoscaling_group.this.arn]
  }
}

# The termination hook: a terminating instance (scale-in, instance refresh, a replaced unhealthy
# node, TerminateInstanceInAutoScalingGroup) waits in Terminating:Wait; on ZooKeeper nodes
# `serve` sees it in IMDS (autoscaling/target-lifecycle-state), leaves the ensemble by reconfig,
# updates servers-spec, stops ZooKeeper and completes the hook (tag mesos:termination-hook).
# A separate resource, not an initial_lifecycle_hook: the provider creates initial hooks only
# with a new group, so an existing group would never get it (no terminating instance exists
# before the first ones launch, so nothing is missed). It is destroyed before the group, so a
# destroy (which drains the group to 0) does not make every node leave one by one (AWS
# completes the outstanding actions with CONTINUE when the hook is deleted).
resource "aws_autoscaling_lifecycle_hook" "termination" {
  count = local.termination_hook ? 1 : 0

  name                   = local.termination_hook_name
  autoscaling_group_name = aws_autoscaling_group.this.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  default_result         = "CONTINUE"
  heartbeat_timeout      = var.termination_hook_heartbeat_timeout

  lifecycle {
    # A replaced group (same name, new ARN) loses its hooks with it: replace the hook too.
    replace_triggered_by = [aws_autoscaling_group.this.arn]
  }
}
