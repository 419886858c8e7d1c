output "asg_name" {
  description = "Name of the Auto Scaling group."
  value       = aws_autoscaling_group.this.name
}

output "asg_arn" {
  description = "ARN of the Auto Scaling group."
  value       = aws_autoscaling_group.this.arn
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.this.id
}

output "iam_role_name" {
  description = "Name of the nodes' IAM role."
  value       = aws_iam_role.this.name
}

output "iam_role_arn" {
  description = "ARN of the nodes' IAM role."
  value       = aws_iam_role.this.arn
}

output "instance_profile_arn" {
  description = "ARN of the nodes' instance profile."
  value       = aws_iam_instance_profile.this.arn
}

output "lifecycle_hook_name" {
  description = "Name of the launch lifecycle hook mesos-boot completes (also the `mesos:lifecycle-hook` tag)."
  value       = local.hook_name
}

output "termination_hook_name" {
  description = "Name of the termination lifecycle hook mesos-boot completes once the node left (also the `mesos:termination-hook` tag); null without one."
  value       = local.termination_hook ? local.termination_hook_name : null
}

output "mesos_tags" {
  description = "The `mesos:*` tags every instance of the group carries."
  value       = local.mesos_tags
}
