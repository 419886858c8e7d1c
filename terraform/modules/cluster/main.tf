data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# The caller's IAM identity (role ARN for an assumed role, not the STS session ARN).
data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  domain      = "${var.cluster_name}.${var.top_fqdn}"
  bucket_name = local.domain # at most 63 characters (checked in variables.tf)
  break_glass = distinct(concat(
    var.break_glass_principal_arns,
    var.allow_terraform_caller ? [data.aws_iam_session_context.current.issuer_arn] : [],
  ))
  shared_config_url = "s3://${local.bucket_name}/${var.shared_config_key}"
}

################################################################################
# DNS
################################################################################

resource "aws_route53_zone" "private" {
  count = var.public_zone ? 0 : 1

  name    = local.domain
  comment = "Mesos cluster ${var.cluster_name} (private)"

  vpc {
    vpc_id = var.vpc_id
  }

  tags = var.tags
}

resource "aws_route53_zone" "public" {
  #checkov:skip=CKV2_AWS_38:Optional public zone (the default is private); DNSSEC needs a KMS key in us-east-1 and a DS record in the parent zone, owned by whoever owns top_fqdn
  #checkov:skip=CKV2_AWS_39:Optional public zone (the default is private); query logging needs a us-east-1 log group with a Route53 resource policy, outside this module
  count = var.public_zone ? 1 : 0

  name    = local.domain
  comment = "Mesos cluster ${var.cluster_name} (public, delegated from ${var.top_fqdn})"

  tags = var.tags
}

resource "aws_route53_record" "delegation" {
  count = var.public_zone ? 1 : 0

  zone_id = var.parent_zone_id
  name    = local.domain
  type    = "NS"
  ttl     = 300
  records = aws_route53_zone.public[0].name_servers
}

################################################################################
# KMS key of the bucket (and of the cluster's log groups)
################################################################################

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy: Resource "*" is this key, and the account-root statement is AWS's default key policy (delegates to IAM)
  #checkov:skip=CKV_AWS_111:A key policy: Resource "*" is this key, and the account-root statement is AWS's default key policy (delegates to IAM)
  #checkov:skip=CKV_AWS_356:A key policy: Resource "*" is this key, and the account-root statement is AWS's default key policy (delegates to IAM)
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"] # "*" in a key policy means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisAccount"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"] # "*" in a key policy means this key
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "Mesos cluster ${var.cluster_name}: shared config bucket and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/mesos-${var.cluster_name}"
  target_key_id = aws_kms_key.this.key_id
}

################################################################################
# Bucket of the Exhibitor shared config
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:One small config object reached only through the VPC endpoint; CloudTrail data events are the audit trail, no access-log bucket per cluster
  #checkov:skip=CKV_AWS_144:The shared config is regional state of a regional cluster; replicating it serves no node, versioning keeps its history
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; mesos-boot reads the object itself

  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # serve's backups (a set a minute while the zxid moves, which idle sessions make it do) and
  # their pruning: a pruned set is a noncurrent version plus a delete marker per object. Keep
  # those a short time only, and remove the markers once they are alone.
  rule {
    id     = "expire-pruned-backups"
    status = "Enabled"

    filter {
      prefix = "${var.shared_config_key}.backups/"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.backup_noncurrent_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  # The objects (the shared config, the secrets, the backups) only through the VPC endpoint.
  # Bucket-level actions are not denied: Terraform's refresh of the bucket starts with
  # HeadBucket, which needs s3:ListBucket, and reads the bucket's settings, so any operator or
  # CI role that IAM allows can plan and fix them from outside the VPC (listing shows key names,
  # never contents). `break_glass_principal_arns` (and the Terraform caller) may also read,
  # write and delete objects from outside (force_destroy, repairs).
  statement {
    sid    = "DenyObjectsOutsideVpcEndpoint"
    effect = "Deny"
    actions = [
      "s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:ListMultipartUploadParts",
      "s3:AbortMultipartUpload", "s3:RestoreObject", "s3:ReplicateObject", "s3:ReplicateDelete",
    ]
    resources = ["${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:SourceVpce"
      values   = [var.s3_endpoint_id]
    }
    # Conditions are ANDed: a break-glass principal is exempt from the endpoint rule only.
    dynamic "condition" {
      for_each = length(local.break_glass) > 0 ? [1] : []
      content {
        test     = "ArnNotLike"
        variable = "aws:PrincipalArn"
        values   = local.break_glass
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
