output "alarm_names" {
  description = "Names of every alarm the module made."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.unhealthy_targets : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.below_desired : a.alarm_name],
    aws_cloudwatch_metric_alarm.lambda_errors[*].alarm_name,
  )
}
