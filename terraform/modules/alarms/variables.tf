variable "name" {
  description = "Name prefix of the alarms (usually the cluster name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 characters of lower-case letters, digits and dashes."
  }
}

variable "sns_topic_arn" {
  description = "SNS topic every alarm notifies, when it fires and when it is OK again."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.sns_topic_arn))
    error_message = "sns_topic_arn must be an SNS topic ARN."
  }
}

variable "target_groups" {
  description = "NLB target groups to watch, by key: the ARN suffixes of the group and of its NLB (the load_balancers module's `target_groups`). An alarm per group when any registered target is unhealthy."
  type        = map(object({ arn_suffix = string, lb_arn_suffix = string }))
}

variable "auto_scaling_groups" {
  description = "Auto Scaling groups to watch, by role: an alarm when fewer instances are InService than desired (the groups' metrics collection must be on, as the node module sets it)."
  type        = map(string)
}

variable "lambda_function_name" {
  description = "The autoscaler Lambda: an alarm on any error. Null = none."
  type        = string
  default     = null
}

variable "period" {
  description = "Seconds of each evaluation period."
  type        = number
  default     = 60

  validation {
    condition     = contains([60, 300], var.period)
    error_message = "period must be 60 or 300."
  }
}

variable "in_service_evaluation_periods" {
  description = "Periods in a row a group must have fewer instances InService than desired before its alarm fires. Longer than a launch (the launch hook holds a joining instance up to 15 minutes) so that a normal replacement does not page."
  type        = number
  default     = 20

  validation {
    condition     = var.in_service_evaluation_periods >= 1
    error_message = "in_service_evaluation_periods must be at least 1."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
