output "vpc_id" {
  description = "VPC of the cluster."
  value       = local.vpc.vpc_id
}

output "domain" {
  description = "The cluster's domain."
  value       = module.cluster.domain
}

output "zone_id" {
  description = "Route53 zone of the cluster."
  value       = module.cluster.zone_id
}

output "bucket_name" {
  description = "Bucket of the shared config."
  value       = module.cluster.bucket_name
}

output "shared_config_url" {
  description = "Value of the `mesos:shared-config` tag."
  value       = module.cluster.shared_config_url
}

output "master_fqdn" {
  description = "Mesos masters' NLB record."
  value       = module.load_balancers.master_fqdn
}

output "zookeeper_fqdn" {
  description = "ZooKeeper/Exhibitor NLB record."
  value       = module.load_balancers.zookeeper_fqdn
}

output "asg_names" {
  description = "Auto Scaling groups by role."
  value = {
    zookeeper = module.zookeeper.asg_name
    master    = module.master.asg_name
    agent     = module.agent.asg_name
  }
}

output "autoscaler_function_name" {
  description = "Name of the autoscaler Lambda."
  value       = module.autoscaler.function_name
}
