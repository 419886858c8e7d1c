variable "cluster_name" {
  description = "Name of the Mesos cluster (`mesos:cluster` tag, name prefix)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be lower-case letters, digits and dashes, starting with a letter and not ending with a dash."
  }

  # The IAM role's name_prefix `<cluster_name>-<role>-` may have at most 38 characters (64 minus
  # the 26 Terraform appends): 27 characters for zookeeper, 30 for master, 31 for agent.
  validation {
    condition     = length("${var.cluster_name}-${var.role}-") <= 38
    error_message = "cluster_name is too long for the IAM role name prefix `<cluster_name>-${var.role}-` (at most 38 characters: ${38 - length(var.role) - 2} for cluster_name)."
  }
}

variable "role" {
  description = "Role of the nodes: `zookeeper`, `master` or `agent` (`mesos:role` tag, `mesos-boot --role`)."
  type        = string

  validation {
    condition     = contains(["zookeeper", "master", "agent"], var.role)
    error_message = "role must be zookeeper, master or agent."
  }
}

variable "size" {
  description = "Number of instances. ZooKeeper and masters: 1, 3, 5 or 7 (min = max = desired); agents: the initial desired capacity."
  type        = number

  validation {
    condition     = var.role == "agent" ? var.size >= 0 : contains([1, 3, 5, 7], var.size)
    error_message = "size must be 1, 3, 5 or 7 for zookeeper and master (an odd quorum), and >= 0 for agents."
  }
}

variable "min_size" {
  description = "Agents only: smallest size the autoscaler may set (ignored for zookeeper and master)."
  type        = number
  default     = 0

  validation {
    condition     = var.min_size >= 0
    error_message = "min_size must be >= 0."
  }
}

variable "max_size" {
  description = "Agents only: largest size the autoscaler may set (ignored for zookeeper and master)."
  type        = number
  default     = 10

  validation {
    condition     = var.role != "agent" || (var.max_size >= var.min_size && var.max_size >= var.size && var.size >= var.min_size)
    error_message = "For agents, min_size <= size <= max_size."
  }
}

variable "ami_id" {
  description = "AMI built by packer/ (one image for every role)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]+$", var.ami_id))
    error_message = "ami_id must look like ami-0123abcd."
  }
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like m6i.large."
  }
}

variable "root_volume_size" {
  description = "Size of the encrypted gp3 root volume, in GiB."
  type        = number
  default     = 30

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 16384
    error_message = "root_volume_size must be between 8 and 16384 GiB."
  }
}

variable "root_device_name" {
  description = "Root device name of the AMI (`/dev/xvda` on Debian and Amazon Linux)."
  type        = string
  default     = "/dev/xvda"

  validation {
    condition     = can(regex("^/dev/[a-z0-9]+$", var.root_device_name))
    error_message = "root_device_name must look like /dev/xvda."
  }
}

variable "subnet_ids" {
  description = "Private subnets the ASG spreads its instances over (one per AZ)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be one or more subnet IDs."
  }
}

variable "security_group_ids" {
  description = "Security groups of the instances (from the security_groups module)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0 && alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids must be one or more security group IDs."
  }
}

variable "target_group_arns" {
  description = "NLB target groups the ASG registers its instances in."
  type        = list(string)
  default     = []
}

variable "shared_config_url" {
  description = "`s3://bucket/key` of the Exhibitor shared config (`mesos:shared-config` tag)."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]+[a-z0-9]/.+$", var.shared_config_url))
    error_message = "shared_config_url must look like s3://bucket/key."
  }
}

variable "bucket_arn" {
  description = "ARN of the cluster bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN."
  }
}

variable "shared_config_key" {
  description = "Key of the shared-config object inside the bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the bucket (nodes may use it through S3 only)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "ensemble_size" {
  description = "Number of ZooKeeper nodes (`mesos:ensemble-size` tag)."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7], var.ensemble_size)
    error_message = "ensemble_size must be 1, 3, 5 or 7."
  }
}

variable "masters" {
  description = "Number of Mesos masters (`mesos:masters` tag; the masters derive their quorum from it)."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7], var.masters)
    error_message = "masters must be 1, 3, 5 or 7."
  }
}

variable "attributes" {
  description = "Agents only: Mesos attributes, rendered as the `mesos:attributes` tag `k:v;k:v` (sorted by key)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.attributes : can(regex("^[A-Za-z0-9_.-]+$", k)) && can(regex("^[A-Za-z0-9_./-]+$", v))])
    error_message = "attribute keys and values may only contain letters, digits, _ . - (and / in values): no ':' or ';'."
  }
}

variable "lifecycle_hook_heartbeat_timeout" {
  description = "Seconds an instance may stay in Pending:Wait before the launch lifecycle hook abandons it (mesos-boot completes the hook earlier, CONTINUE once the node joined, ABANDON on failure)."
  type        = number
  default     = 900

  validation {
    condition     = var.lifecycle_hook_heartbeat_timeout >= 30 && var.lifecycle_hook_heartbeat_timeout <= 7200
    error_message = "lifecycle_hook_heartbeat_timeout must be between 30 and 7200 seconds."
  }
}

variable "zk_endpoint" {
  description = "Masters and agents (and ZooKeeper nodes with `zk_tls`, whose certificates then name its host): `host:port` through which Mesos reaches ZooKeeper (`mesos:zk-endpoint` tag), usually the internal NLB `zookeeper.<cluster>.<top_fqdn>:2181`, whose targets Auto Scaling keeps current and whose health check is `mesos-boot serve`'s /health. Null: Mesos gets the member addresses of its first boot, which go stale as members are replaced."
  type        = string
  default     = null

  validation {
    condition     = var.zk_endpoint == null || can(regex("^[A-Za-z0-9.-]+:[0-9]{1,5}$", var.zk_endpoint))
    error_message = "zk_endpoint must be host:port."
  }
}

variable "termination_hook" {
  description = "Whether the group gets the termination lifecycle hook `mesos-boot-left` (`mesos:termination-hook` tag): a terminating instance waits in Terminating:Wait until mesos-boot completes the hook. Null = on for zookeeper (`serve` leaves the ensemble by reconfig, one member at a time under the majority guard, then completes it), off for master and agent (nothing on those nodes completes it: every termination would wait the whole timeout)."
  type        = bool
  default     = null
}

variable "termination_hook_heartbeat_timeout" {
  description = "Seconds a terminating instance may stay in Terminating:Wait while it leaves (a reconfig and a stop). At the timeout the hook's default result, CONTINUE, applies: a node that could not leave cleanly is terminated all the same, and the survivors remove it as a dead member."
  type        = number
  default     = 600

  validation {
    condition     = var.termination_hook_heartbeat_timeout >= 30 && var.termination_hook_heartbeat_timeout <= 7200
    error_message = "termination_hook_heartbeat_timeout must be between 30 and 7200 seconds."
  }
}

variable "health_check_grace_period" {
  description = "Seconds after InService before failed load-balancer health checks replace an instance."
  type        = number
  default     = 300

  validation {
    condition     = var.health_check_grace_period >= 0
    error_message = "health_check_grace_period must be >= 0."
  }
}

variable "wait_for_capacity_timeout" {
  description = "How long Terraform waits for the ASG's instances to be InService (\"0\" = do not wait). Null = twice `lifecycle_hook_heartbeat_timeout` plus 5 minutes; any other value must be longer than the hook's timeout."
  type        = string
  default     = null

  validation {
    condition     = var.wait_for_capacity_timeout == null ? true : can(regex("^[0-9]+[smh]?$", var.wait_for_capacity_timeout))
    error_message = "wait_for_capacity_timeout must be a duration like 35m, or 0."
  }

  validation {
    condition = var.wait_for_capacity_timeout == null ? true : (
      !can(regex("^[0-9]+[smh]?$", var.wait_for_capacity_timeout)) ? true : (
        tonumber(regex("^[0-9]+", var.wait_for_capacity_timeout)) == 0 ||
        tonumber(regex("^[0-9]+", var.wait_for_capacity_timeout)) * lookup({ "s" = 1, "m" = 60, "h" = 3600 }, replace(var.wait_for_capacity_timeout, "/^[0-9]+/", ""), 1) > var.lifecycle_hook_heartbeat_timeout
      )
    )
    error_message = "wait_for_capacity_timeout must be 0 or longer than lifecycle_hook_heartbeat_timeout: a shorter wait fails the first apply while instances are still joining and taints the group, whose replacement would meet stale ensemble entries."
  }
}

variable "mesos_boot_path" {
  description = "Path of the mesos-boot binary in the image."
  type        = string
  default     = "/usr/local/bin/mesos-boot"

  validation {
    condition     = startswith(var.mesos_boot_path, "/")
    error_message = "mesos_boot_path must be absolute."
  }
}

variable "tags" {
  description = "Tags added to every resource (and to the instances, through the launch template)."
  type        = map(string)
  default     = {}

  # Instance metadata tags are on (mesos-boot reads its tags there): EC2 then refuses instance
  # tag keys with a space or `/`, and the keys `.`, `..` and `_index`.
  validation {
    condition = alltrue([
      for k, v in var.tags :
      can(regex("^[A-Za-z0-9+\\-=._:@]{1,128}$", k)) && !contains([".", "..", "_index"], k) && !startswith(lower(k), "aws:") && length(v) <= 256
    ])
    error_message = "tags: keys must be 1-128 characters of letters, digits and + - = . _ : @ (no space or /, not `.`, `..`, `_index`, not starting with aws:), values at most 256 characters."
  }
}

variable "instance_refresh" {
  description = "Roll a new launch template (a new AMI, a new instance type) through the group one instance at a time, by an instance refresh that the apply starts (null: ZooKeeper and masters yes, agents no). Each old instance leaves through the termination hook (ZooKeeper: serve's reconfig) and each new one must complete its launch hook before the next; agents are never refreshed (a refresh would terminate them undrained: terraform/README.md, \"Rolling a new AMI\")."
  type        = bool
  default     = null
}

variable "ssm" {
  description = "Operator access through AWS Systems Manager (Session Manager shells and port forwarding): the role gets the least the SSM agent needs (registering the instance, the session channels, the agent's message polling). The image must carry the agent (packer's ssm_agent_deb_url), and the VPC the ssm, ssmmessages and ec2messages endpoints (or a NAT path)."
  type        = bool
  default     = false
}

variable "zk_tls" {
  description = "ZooKeeper nodes: quorum TLS and a TLS client port (2281) with certificates from a cluster CA that mesos-boot creates beside the shared config on the first boot (`mesos:zk-tls`); the ZooKeeper role may read and create that CA object, nobody else. Ignored on masters and agents (Mesos speaks plain ZooKeeper, authenticated by digest)."
  type        = bool
  default     = false
}
