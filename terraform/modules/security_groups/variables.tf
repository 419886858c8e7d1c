variable "name" {
  description = "Name prefix of the security groups (usually the cluster name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 characters of lower-case letters, digits and dashes."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123abcd."
  }
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC: HTTPS egress to the interface VPC endpoints goes there."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr_block))
    error_message = "vpc_cidr_block must be an IPv4 CIDR."
  }
}

variable "s3_prefix_list_id" {
  description = "Managed prefix list of S3 (from the S3 gateway endpoint), for HTTPS egress to the shared-config bucket."
  type        = string

  validation {
    condition     = can(regex("^pl-[0-9a-f]+$", var.s3_prefix_list_id))
    error_message = "s3_prefix_list_id must look like pl-0123abcd."
  }
}

variable "client_cidr_blocks" {
  description = "CIDRs allowed to reach the internal load balancers (Mesos UI/API 80+5050, ZooKeeper 2181, Exhibitor 8080+80). Usually the VPC and peered networks."
  type        = list(string)

  validation {
    condition     = length(var.client_cidr_blocks) > 0 && alltrue([for c in var.client_cidr_blocks : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "client_cidr_blocks must be one or more IPv4 CIDRs, and not 0.0.0.0/0."
  }
}

variable "agent_egress_cidr_blocks" {
  description = "CIDRs the agents' tasks may reach on any port (image registries, services). Empty = agents only reach the cluster and the AWS endpoints."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.agent_egress_cidr_blocks : can(cidrnetmask(c))])
    error_message = "agent_egress_cidr_blocks must be IPv4 CIDRs."
  }
}

variable "api_egress_cidr_blocks" {
  description = "CIDRs of the AWS APIs' public endpoints (usually `0.0.0.0/0` through a NAT gateway) the nodes and the autoscaler reach on 443, for a VPC without the ec2, autoscaling and sts (and logs) interface endpoints. Empty = only the VPC's CIDR (the interface endpoints) and S3's prefix list."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.api_egress_cidr_blocks : can(cidrnetmask(c))])
    error_message = "api_egress_cidr_blocks must be IPv4 CIDRs."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "task_port_range" {
  description = "Ports the agents offer to tasks (Mesos' default `ports` resource is 31000-32000): open between agents and from client_cidr_blocks."
  type        = object({ from = number, to = number })
  default     = { from = 31000, to = 32000 }

  validation {
    condition     = var.task_port_range.from >= 1024 && var.task_port_range.from <= var.task_port_range.to && var.task_port_range.to <= 65535
    error_message = "task_port_range must be from <= to within 1024-65535."
  }
}

variable "zookeeper_tls" {
  description = "Open ZooKeeper's TLS client port 2281 (`mesos:zk-tls`) through the zookeeper NLB."
  type        = bool
  default     = false
}
