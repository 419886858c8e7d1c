output "master_target_group_arns" {
  description = "Target groups the master ASG registers in (5050)."
  value       = [aws_lb_target_group.this["master"].arn]
}

output "zookeeper_target_group_arns" {
  description = "Target groups the ZooKeeper ASG registers in (2181, 8080, and 2281 with TLS)."
  value       = [for k in ["zk_client", "zk_api", "zk_tls"] : aws_lb_target_group.this[k].arn if contains(keys(aws_lb_target_group.this), k)]
}

output "master_lb_arn" {
  description = "ARN of the mesos-master NLB."
  value       = aws_lb.this["master"].arn
}

output "zookeeper_lb_arn" {
  description = "ARN of the zookeeper NLB."
  value       = aws_lb.this["zookeeper"].arn
}

output "master_fqdn" {
  description = "`mesos-master.<domain>`: Mesos UI/API on 80 and 5050."
  value       = aws_route53_record.this["master"].fqdn
}

output "zookeeper_fqdn" {
  description = "`zookeeper.<domain>`: ZooKeeper on 2181, Exhibitor API on 8080 and 80."
  value       = aws_route53_record.this["zookeeper"].fqdn
}

output "master_url" {
  description = "URL of the Mesos masters through the NLB (for the autoscaler). Built from the domain, so that its users need not wait for the NLB."
  value       = "http://mesos-master.${var.domain}:5050"
}

output "target_groups" {
  description = "Every target group by key (`master`, `zk_client`, `zk_api`, `zk_tls`): its and its NLB's ARN suffixes (the CloudWatch dimensions `TargetGroup` and `LoadBalancer`)."
  value = {
    for k, tg in aws_lb_target_group.this : k => {
      arn_suffix    = tg.arn_suffix
      lb_arn_suffix = aws_lb.this[local.target_groups[k].lb].arn_suffix
    }
  }
}
