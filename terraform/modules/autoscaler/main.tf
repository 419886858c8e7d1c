data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name = "${var.cluster_name}-autoscaler"

  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
  # The HTTP principal the autoscaler authenticates to the masters with: created by the masters'
  # mesos-boot beside the shared config; the function reads it at run time (never Terraform).
  credential_key = "${var.shared_config_key}.mesos-scale"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${local.name}-"
  description        = "Autoscaler Lambda of Mesos cluster ${var.cluster_name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

# ENI management for the VPC attachment and CloudWatch Logs.
resource "aws_iam_role_policy_attachment" "vpc" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadGroups"
    actions   = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities"] # no resource-level restriction
    resources = ["*"]
  }

  statement {
    sid       = "ResizeAgents"
    actions   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup", "autoscaling:CreateOrUpdateTags"] # the group's tag keeps cooldowns between runs
    resources = [var.agent_asg_arn]
  }

  statement {
    sid       = "ReadAgentInstances"
    actions   = ["ec2:DescribeInstances"] # no resource-level restriction; IPs and hostnames to match Mesos agents
    resources = ["*"]
  }

  # Idle and drain state of each agent, kept across runs in the instance's own tags.
  statement {
    sid       = "TagAgentInstances"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = ["arn:${data.aws_partition.current.partition}:ec2:*:*:instance/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/aws:autoscaling:groupName"
      values   = [var.agent_asg_name]
    }
    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["mesos-scale:*"]
    }
  }

  statement {
    sid       = "DecryptEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  # Its own credential only: none of the other Mesos credentials, not the shared config.
  statement {
    sid       = "ReadMesosCredentials"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.credential_key}"]
  }

  # As on the nodes (modules/node): S3 answers a missing key (the masters have not created the
  # credential yet) with 404 only to a caller that may s3:ListBucket the bucket, else 403. An
  # s3:prefix condition would not count: GetObject carries no prefix. Names only, no contents.
  statement {
    sid       = "ListBucketSoMissingKeysAre404"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  # The bucket is SSE-KMS encrypted: reading the credential decrypts its data key, through S3.
  statement {
    sid       = "UseBucketKeyThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [var.bucket_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "autoscaler"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Runs on a schedule; a failed run is superseded by the next one a minute later, so a dead-letter queue would only collect stale events.
  #checkov:skip=CKV_AWS_272:The zip is built by this repository's CI; code signing needs an AWS Signer profile, left to deployments that have one.
  function_name    = local.name
  description      = "Resizes the agents of Mesos cluster ${var.cluster_name}"
  role             = aws_iam_role.this.arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  # Optional: accounts with a low concurrency quota refuse any reservation. Runs do not
  # overlap anyway while `timeout` is below the schedule's period (no retries, see below).
  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = merge(var.environment, {
      MESOS_CLUSTER  = var.cluster_name
      MESOS_MASTER   = var.master_url
      AGENT_ASG_NAME = var.agent_asg_name
      # Where the credential is, not the credential: the function reads it from S3.
      MESOS_SCALE_CREDENTIAL = "s3://${var.bucket_name}/${local.credential_key}"
    })
  }

  # Lambda leaves its hyperplane ENIs behind for a while after the function is deleted.
  # They carry only this function's security group, which is destroyed after the function:
  # the provider's security-group (and subnet) delete waits for those ENIs and deletes them.
  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.vpc, aws_iam_role_policy.this]
}

# A scheduled tick is worth running only now: no async retries (the default is 2) and a short
# event age (the default is 6 hours), so a throttled or failed tick is dropped, not run late.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = var.maximum_event_age
}

resource "aws_cloudwatch_event_rule" "this" {
  name                = local.name
  description         = "Runs the autoscaler of Mesos cluster ${var.cluster_name}"
  schedule_expression = var.schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  rule = aws_cloudwatch_event_rule.this.name
  arn  = aws_lambda_function.this.arn

  # EventBridge's own delivery retries (default: 185 over 24 hours) would also run a tick late.
  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = var.maximum_event_age
  }
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}
