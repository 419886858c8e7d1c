# Sample composition of the modules: a VPC (or an existing one), the cluster's zone and
# bucket, security groups, internal NLBs, the three node groups and the autoscaler.

module "network" {
  source = "../modules/network"
  count  = var.existing_vpc == null ? 1 : 0

  name               = var.cluster_name
  cidr_block         = var.vpc_cidr_block
  availability_zones = var.availability_zones
  log_kms_key_arn    = module.cluster.kms_key_arn
  # operator_access = "ssm": Session Manager's endpoints beside the ones mesos-boot needs.
  interface_endpoints = concat(["ec2", "autoscaling", "sts", "logs"], var.operator_access == "ssm" ? ["ssm", "ssmmessages", "ec2messages"] : [])
  tags                = var.tags
}

locals {
  vpc = var.existing_vpc != null ? var.existing_vpc : {
    vpc_id                 = module.network[0].vpc_id
    cidr_block             = module.network[0].vpc_cidr_block
    private_subnet_ids     = module.network[0].private_subnet_ids
    s3_endpoint_id         = module.network[0].s3_endpoint_id
    s3_prefix_list_id      = module.network[0].s3_prefix_list_id
    interface_endpoints    = true # the network module's defaults: ec2, autoscaling, sts, logs
    api_egress_cidr_blocks = tolist([])
  }
  client_cidr_blocks = length(var.client_cidr_blocks) > 0 ? var.client_cidr_blocks : [local.vpc.cidr_block]
}

module "cluster" {
  source = "../modules/cluster"

  cluster_name               = var.cluster_name
  top_fqdn                   = var.top_fqdn
  vpc_id                     = local.vpc.vpc_id
  s3_endpoint_id             = local.vpc.s3_endpoint_id
  public_zone                = var.public_zone
  parent_zone_id             = var.parent_zone_id
  break_glass_principal_arns = var.break_glass_principal_arns
  force_destroy              = var.force_destroy_bucket
  tags                       = var.tags
}

module "security_groups" {
  source = "../modules/security_groups"

  name                     = var.cluster_name
  vpc_id                   = local.vpc.vpc_id
  vpc_cidr_block           = local.vpc.cidr_block
  s3_prefix_list_id        = local.vpc.s3_prefix_list_id
  client_cidr_blocks       = local.client_cidr_blocks
  agent_egress_cidr_blocks = var.agent_egress_cidr_blocks
  api_egress_cidr_blocks   = local.vpc.api_egress_cidr_blocks
  zookeeper_tls            = var.zookeeper_tls
  tags                     = var.tags
}

module "load_balancers" {
  source = "../modules/load_balancers"

  cluster_name                 = var.cluster_name
  vpc_id                       = local.vpc.vpc_id
  subnet_ids                   = local.vpc.private_subnet_ids
  master_security_group_ids    = [module.security_groups.lb_master_security_group_id]
  zookeeper_security_group_ids = [module.security_groups.lb_zookeeper_security_group_id]
  zone_id                      = module.cluster.zone_id
  domain                       = module.cluster.domain
  deletion_protection          = var.lb_deletion_protection
  zookeeper_tls                = var.zookeeper_tls
  tags                         = var.tags
}

locals {
  node_common = {
    cluster_name              = var.cluster_name
    ami_id                    = var.ami_id
    subnet_ids                = local.vpc.private_subnet_ids
    shared_config_url         = module.cluster.shared_config_url
    shared_config_key         = module.cluster.shared_config_key
    bucket_arn                = module.cluster.bucket_arn
    kms_key_arn               = module.cluster.kms_key_arn
    ensemble_size             = var.zookeeper_count
    masters                   = var.master_count
    wait_for_capacity_timeout = var.wait_for_capacity_timeout
    hook_timeout              = var.lifecycle_hook_heartbeat_timeout
    ssm                       = var.operator_access == "ssm"
  }
}

module "zookeeper" {
  source = "../modules/node"

  role               = "zookeeper"
  size               = var.zookeeper_count
  instance_type      = var.instance_types.zookeeper
  security_group_ids = [module.security_groups.zookeeper_security_group_id]
  target_group_arns  = module.load_balancers.zookeeper_target_group_arns
  zk_tls             = var.zookeeper_tls
  # With TLS, the members' certificates name the NLB too (TLS clients check the name).
  zk_endpoint = var.mesos_zk_through_load_balancer ? "${module.load_balancers.zookeeper_fqdn}:2181" : null

  cluster_name                     = local.node_common.cluster_name
  ami_id                           = local.node_common.ami_id
  subnet_ids                       = local.node_common.subnet_ids
  shared_config_url                = local.node_common.shared_config_url
  shared_config_key                = local.node_common.shared_config_key
  bucket_arn                       = local.node_common.bucket_arn
  kms_key_arn                      = local.node_common.kms_key_arn
  ensemble_size                    = local.node_common.ensemble_size
  masters                          = local.node_common.masters
  wait_for_capacity_timeout        = local.node_common.wait_for_capacity_timeout
  lifecycle_hook_heartbeat_timeout = local.node_common.hook_timeout
  ssm                              = local.node_common.ssm
  tags                             = var.tags
}

module "master" {
  source = "../modules/node"

  role               = "master"
  size               = var.master_count
  instance_type      = var.instance_types.master
  security_group_ids = [module.security_groups.master_security_group_id]
  target_group_arns  = module.load_balancers.master_target_group_arns
  # Mesos reaches ZooKeeper through its NLB: the name stays right as members are replaced.
  zk_endpoint = var.mesos_zk_through_load_balancer ? "${module.load_balancers.zookeeper_fqdn}:2181" : null

  cluster_name                     = local.node_common.cluster_name
  ami_id                           = local.node_common.ami_id
  subnet_ids                       = local.node_common.subnet_ids
  shared_config_url                = local.node_common.shared_config_url
  shared_config_key                = local.node_common.shared_config_key
  bucket_arn                       = local.node_common.bucket_arn
  kms_key_arn                      = local.node_common.kms_key_arn
  ensemble_size                    = local.node_common.ensemble_size
  masters                          = local.node_common.masters
  wait_for_capacity_timeout        = local.node_common.wait_for_capacity_timeout
  lifecycle_hook_heartbeat_timeout = local.node_common.hook_timeout
  ssm                              = local.node_common.ssm
  tags                             = var.tags
}

module "agent" {
  source = "../modules/node"

  role               = "agent"
  size               = var.agent_count
  min_size           = var.agent_min_size
  max_size           = var.agent_max_size
  instance_type      = var.instance_types.agent
  security_group_ids = [module.security_groups.agent_security_group_id]
  attributes         = var.agent_attributes
  root_volume_size   = 100
  zk_endpoint        = var.mesos_zk_through_load_balancer ? "${module.load_balancers.zookeeper_fqdn}:2181" : null

  cluster_name                     = local.node_common.cluster_name
  ami_id                           = local.node_common.ami_id
  subnet_ids                       = local.node_common.subnet_ids
  shared_config_url                = local.node_common.shared_config_url
  shared_config_key                = local.node_common.shared_config_key
  bucket_arn                       = local.node_common.bucket_arn
  kms_key_arn                      = local.node_common.kms_key_arn
  ensemble_size                    = local.node_common.ensemble_size
  masters                          = local.node_common.masters
  wait_for_capacity_timeout        = local.node_common.wait_for_capacity_timeout
  lifecycle_hook_heartbeat_timeout = local.node_common.hook_timeout
  ssm                              = local.node_common.ssm
  tags                             = var.tags
}

module "autoscaler" {
  source = "../modules/autoscaler"

  cluster_name         = var.cluster_name
  zip_path             = var.autoscaler_zip_path
  architecture         = var.autoscaler_architecture
  subnet_ids           = local.vpc.private_subnet_ids
  security_group_ids   = [module.security_groups.autoscaler_security_group_id]
  master_url           = module.load_balancers.master_url
  agent_asg_name       = module.agent.asg_name
  agent_asg_arn        = module.agent.asg_arn
  kms_key_arn          = module.cluster.kms_key_arn
  bucket_name          = module.cluster.bucket_name
  shared_config_key    = module.cluster.shared_config_key
  bucket_kms_key_arn   = module.cluster.kms_key_arn
  reserved_concurrency = var.autoscaler_reserved_concurrency
  tags                 = var.tags
}

# Alarms (unhealthy NLB targets, groups below desired, autoscaler errors) when a topic is given.
module "alarms" {
  source = "../modules/alarms"
  count  = var.alarm_sns_topic_arn == null ? 0 : 1

  name                 = var.cluster_name
  sns_topic_arn        = var.alarm_sns_topic_arn
  target_groups        = module.load_balancers.target_groups
  auto_scaling_groups  = { zookeeper = module.zookeeper.asg_name, master = module.master.asg_name, agent = module.agent.asg_name }
  lambda_function_name = module.autoscaler.function_name
  tags                 = var.tags
}

# master_count is fixed once the masters run: each master renders Mesos' --quorum from its
# instance's mesos:masters tag at boot, and tags do not change on running instances, so after
# a change old and new masters would run with different quorums over one replicated log (which
# can lose registry writes). The plan refuses the change; terraform/README.md says how to make it.
data "aws_autoscaling_groups" "masters" {
  names = ["${var.cluster_name}-master"]
}

data "aws_autoscaling_groups" "masters_of_this_count" {
  names = ["${var.cluster_name}-master"]

  filter {
    name   = "tag:mesos:masters"
    values = [tostring(var.master_count)]
  }
}

resource "terraform_data" "master_count" {
  input = var.master_count

  lifecycle {
    precondition {
      condition     = length(data.aws_autoscaling_groups.masters.names) == 0 || length(data.aws_autoscaling_groups.masters_of_this_count.names) == 1
      error_message = "master_count cannot change on a running cluster: the group ${var.cluster_name}-master does not carry mesos:masters = ${var.master_count}, and its masters keep the Mesos --quorum of their first boot (mixed quorums over one replicated log can lose registry writes). See terraform/README.md, \"Changing the number of masters\"."
    }
  }
}
