output "function_name" {
  description = "Name of the autoscaler function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the autoscaler function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the autoscaler's IAM role."
  value       = aws_iam_role.this.arn
}

output "schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the autoscaler."
  value       = aws_cloudwatch_event_rule.this.arn
}
