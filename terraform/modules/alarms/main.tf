# CloudWatch alarms of a cluster, all notifying one SNS topic: unhealthy NLB targets, groups
# below their desired capacity, and the autoscaler's errors.

resource "aws_cloudwatch_metric_alarm" "unhealthy_targets" {
  for_each = var.target_groups

  alarm_name          = "${var.name}-${replace(each.key, "_", "-")}-unhealthy-targets"
  alarm_description   = "A target of the ${each.key} target group is unhealthy (its NLB health check fails)."
  namespace           = "AWS/NetworkELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = var.period
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  dimensions = {
    TargetGroup  = each.value.arn_suffix
    LoadBalancer = each.value.lb_arn_suffix
  }
  alarm_actions = [var.sns_topic_arn]
  ok_actions    = [var.sns_topic_arn]

  tags = var.tags
}

# desired - in service > 0 for longer than a launch takes.
resource "aws_cloudwatch_metric_alarm" "below_desired" {
  for_each = var.auto_scaling_groups

  alarm_name          = "${var.name}-${each.key}-below-desired"
  alarm_description   = "The ${each.value} group has had fewer instances InService than desired for ${var.in_service_evaluation_periods * var.period} s: instances fail to join (see their boot records)."
  evaluation_periods  = var.in_service_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "breaching"
  alarm_actions       = [var.sns_topic_arn]
  ok_actions          = [var.sns_topic_arn]

  metric_query {
    id          = "missing"
    expression  = "desired - in_service"
    label       = "Instances desired but not InService"
    return_data = true
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "AWS/AutoScaling"
      metric_name = "GroupDesiredCapacity"
      period      = var.period
      stat        = "Minimum"
      dimensions  = { AutoScalingGroupName = each.value }
    }
  }

  metric_query {
    id = "in_service"
    metric {
      namespace   = "AWS/AutoScaling"
      metric_name = "GroupInServiceInstances"
      period      = var.period
      stat        = "Minimum"
      dimensions  = { AutoScalingGroupName = each.value }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  count = var.lambda_function_name == null ? 0 : 1

  alarm_name          = "${var.name}-autoscaler-errors"
  alarm_description   = "The autoscaler Lambda ${var.lambda_function_name} failed (see its log group)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  dimensions          = { FunctionName = var.lambda_function_name }
  alarm_actions       = [var.sns_topic_arn]
  ok_actions          = [var.sns_topic_arn]

  tags = var.tags
}
