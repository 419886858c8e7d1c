output "zookeeper_security_group_id" {
  description = "Security group of the ZooKeeper nodes."
  value       = aws_security_group.this["zookeeper"].id
}

output "master_security_group_id" {
  description = "Security group of the Mesos masters."
  value       = aws_security_group.this["master"].id
}

output "agent_security_group_id" {
  description = "Security group of the Mesos agents."
  value       = aws_security_group.this["agent"].id
}

output "lb_master_security_group_id" {
  description = "Security group of the mesos-master NLB."
  value       = aws_security_group.this["lb_master"].id
}

output "lb_zookeeper_security_group_id" {
  description = "Security group of the zookeeper NLB."
  value       = aws_security_group.this["lb_zookeeper"].id
}

output "autoscaler_security_group_id" {
  description = "Security group of the autoscaler Lambda's ENIs."
  value       = aws_security_group.this["autoscaler"].id
}
