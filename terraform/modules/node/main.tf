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
  )
  instance_tags = merge(var.tags, local.mesos_tags, { Name = local.name })

  asg_arn_pattern = "arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.asg_name}"
  object_arn      = "${var.bucket_arn}/${var.shared_config_key}"
  # The ZooKeeper superuser secret that authenticates reconfig (created by mesos-boot).
  secret_key = "${var.shared_config_key}.zk-super"
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

  statement {
    sid       = "CompleteOwnLaunchHook"
    actions   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
    resources = [local.asg_arn_pattern]
  }

  statement {
    sid       = "ReadSharedConfig"
    actions   = var.role == "zookeeper" ? ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"] : ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.object_arn]
  }

  # Without ListBucket a missing object reads as 403 instead of 404.
  statement {
    sid       = "ListSharedConfigKey"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringEquals"
      variable = "s3:prefix"
      values   = [var.shared_config_key]
    }
  }

  statement {
    sid       = "UseBucketKeyThroughS3"
    actions   = var.role == "zookeeper" ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
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

  # ZooKeeper nodes only: masters and agents can never read the reconfig secret.
  dynamic "statement" {
    for_each = var.role == "zookeeper" ? [1] : []
    content {
      sid       = "ZooKeeperSuperSecret"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${var.bucket_arn}/${local.secret_key}"]
    }
  }

  dynamic "statement" {
    for_each = var.role == "zookeeper" ? [1] : []
    content {
      sid       = "ListSuperSecretKey"
      actions   = ["s3:ListBucket"]
      resources = [var.bucket_arn]
      condition {
        test     = "StringEquals"
        variable = "s3:prefix"
        values   = [local.secret_key]
      }
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

  tag_specifications {
    resource_type = "volume"
    tags          = local.instance_tags
  }

  tags = var.tags
}

################################################################################
# Auto Scaling group with its launch lifecycle hook
################################################################################

resource "aws_autoscaling_group" "this" {
  name                      = local.asg_name
  min_size                  = local.fixed ? var.size : var.min_size
  max_size                  = local.fixed ? var.size : var.max_size
  desired_capacity          = var.size
  vpc_zone_identifier       = var.subnet_ids
  target_group_arns         = var.target_group_arns
  health_check_type         = length(var.target_group_arns) > 0 ? "ELB" : "EC2"
  health_check_grace_period = var.health_check_grace_period
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  termination_policies      = ["OldestLaunchTemplate", "OldestInstance"]
  enabled_metrics           = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"]

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # An initial hook (not a separate aws_autoscaling_lifecycle_hook) so that the very first
  # instances already wait in Pending:Wait until mesos-boot reports that they joined.
  initial_lifecycle_hook {
    name                 = local.hook_name
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    default_result       = "ABANDON"
    heartbeat_timeout    = var.lifecycle_hook_heartbeat_timeout
  }

  dynamic "tag" {
    for_each = local.instance_tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # The autoscaler Lambda owns the agents' desired capacity; min = max pins the others.
    ignore_changes = [desired_capacity]
  }

  depends_on = [aws_iam_role_policy.this]
}
