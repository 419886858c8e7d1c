locals {
  # Set only when var.aws_endpoint_url points at an AWS emulator (the moto server of
  # tests/terraform); null leaves every setting at the provider's real-AWS default.
  emulated = var.aws_endpoint_url != ""
  endpoint = local.emulated ? var.aws_endpoint_url : null
}

provider "aws" {
  region = var.aws_region

  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_requesting_account_id  = local.emulated
  skip_region_validation      = local.emulated
  s3_use_path_style           = local.emulated

  endpoints {
    autoscaling      = local.endpoint
    cloudwatch       = local.endpoint
    cloudwatchevents = local.endpoint
    cloudwatchlogs   = local.endpoint
    ec2              = local.endpoint
    elbv2            = local.endpoint
    iam              = local.endpoint
    kms              = local.endpoint
    lambda           = local.endpoint
    route53          = local.endpoint
    s3               = local.endpoint
    sts              = local.endpoint
  }

  default_tags {
    tags = merge(var.tags, { "mesos:cluster" = var.cluster_name })
  }
}
