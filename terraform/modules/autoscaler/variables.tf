variable "cluster_name" {
  description = "Name of the Mesos cluster (function name `<cluster_name>-autoscaler`)."
  type        = string

  validation {
    # The role's name_prefix `<cluster_name>-autoscaler-` may have at most 38 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{0,24}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-26 characters of lower-case letters, digits and dashes, starting with a letter and not ending with a dash (the IAM role name prefix `<cluster_name>-autoscaler-` is at most 38 characters)."
  }
}

variable "zip_path" {
  description = "Path of the autoscaler's deployment zip (a `bootstrap` executable at its root, built from the workspace's autoscaler crate)."
  type        = string

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must name a .zip file."
  }
}

variable "architecture" {
  description = "CPU architecture the `bootstrap` binary was built for: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "schedule_expression" {
  description = "EventBridge schedule of the autoscaler runs."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...) or cron(...)."
  }
}

variable "memory_size" {
  description = "Memory of the function, in MB."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240."
  }
}

variable "timeout" {
  description = "Timeout of one run, in seconds (keep it below the schedule's period)."
  type        = number
  default     = 50

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the function's ENIs (it reads the masters through the internal NLB)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must not be empty."
  }
}

variable "security_group_ids" {
  description = "Security groups of the function's ENIs: a group used by nothing else, so that destroying it also removes the ENIs Lambda leaves behind."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "security_group_ids must not be empty."
  }
}

variable "master_url" {
  description = "URL of the Mesos masters (`http://mesos-master.<domain>:5050`)."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.master_url))
    error_message = "master_url must be an http(s) URL."
  }
}

variable "agent_asg_name" {
  description = "Name of the agents' Auto Scaling group the autoscaler resizes."
  type        = string
}

variable "agent_asg_arn" {
  description = "ARN of the agents' Auto Scaling group (IAM resource of SetDesiredCapacity)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:autoscaling:", var.agent_asg_arn))
    error_message = "agent_asg_arn must be an Auto Scaling group ARN."
  }
}

variable "bucket_name" {
  description = "Name of the cluster bucket, where the masters' mesos-boot creates the autoscaler's HTTP credential (`<shared_config_key>.mesos-scale`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be an S3 bucket name."
  }
}

variable "shared_config_key" {
  description = "Key of the shared-config object in the bucket; the credential is `<shared_config_key>.mesos-scale` beside it (`MESOS_SCALE_CREDENTIAL`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()/-]+$", var.shared_config_key)) && !startswith(var.shared_config_key, "/")
    error_message = "shared_config_key must be a relative S3 key of safe characters."
  }
}

variable "bucket_kms_key_arn" {
  description = "KMS key that encrypts the bucket (the function may decrypt with it through S3 only)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.bucket_kms_key_arn))
    error_message = "bucket_kms_key_arn must be a KMS key ARN."
  }
}

variable "environment" {
  description = "Extra environment variables of the function (policy knobs of the autoscaler)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key of the function's environment and log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the function (1 = never two runs at once). Null = none: accounts with a low concurrency quota refuse any reservation."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null ? true : var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be null or at least 1."
  }
}

variable "maximum_event_age" {
  description = "Seconds a scheduled tick may wait (throttling, failed delivery) before it is dropped; retries are off."
  type        = number
  default     = 60

  validation {
    condition     = var.maximum_event_age >= 60 && var.maximum_event_age <= 21600
    error_message = "maximum_event_age must be between 60 and 21600 seconds."
  }
}
