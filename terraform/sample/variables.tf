variable "aws_region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like us-east-1."
  }
}

variable "aws_endpoint_url" {
  description = "Endpoint of an AWS API emulator for every service (tests only). Empty = real AWS."
  type        = string
  default     = ""

  validation {
    condition     = var.aws_endpoint_url == "" || can(regex("^https?://", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be empty or an http(s) URL."
  }
}

variable "cluster_name" {
  description = "Name of the Mesos cluster: DNS label, `mesos:cluster` tag, name prefix."
  type        = string

  validation {
    # The tightest of AWS's limits: `<cluster_name>-mesos-master` is a load balancer name (at
    # most 32 characters, not starting with internal-); target group names are at most
    # `<cluster_name>-z2181-<6 hex>` (32); the bucket name must not start with xn-- or sthree-.
    condition = (can(regex("^[a-z][a-z0-9-]{0,17}[a-z0-9]$", var.cluster_name)) &&
      !startswith(var.cluster_name, "internal-") && !startswith(var.cluster_name, "xn--") &&
    !startswith(var.cluster_name, "sthree-") && !startswith(var.cluster_name, "amzn-s3-demo-"))
    error_message = "cluster_name must be 2-19 characters of lower-case letters, digits and dashes, starting with a letter and not ending with a dash (`<cluster_name>-mesos-master` is a load balancer name, at most 32 characters), and must not start with internal-, xn--, sthree- or amzn-s3-demo-."
  }
}

variable "top_fqdn" {
  description = "Parent domain: the cluster's zone and bucket are `<cluster_name>.<top_fqdn>`."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.top_fqdn)) && !endswith(var.top_fqdn, ".mrap")
    error_message = "top_fqdn must be a lower-case DNS name without a trailing dot (not ending in .mrap)."
  }

  validation {
    condition     = length("${var.cluster_name}.${var.top_fqdn}") <= 63
    error_message = "`<cluster_name>.<top_fqdn>` is the bucket name and may have at most 63 characters: top_fqdn may have at most ${62 - length(var.cluster_name)} with this cluster_name."
  }
}

variable "availability_zones" {
  description = "AZs of the new VPC's private subnets (ignored with an existing VPC)."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "availability_zones must list at least 2 zones."
  }
}

variable "vpc_cidr_block" {
  description = "CIDR of the new VPC (ignored with an existing VPC)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr_block))
    error_message = "vpc_cidr_block must be an IPv4 CIDR."
  }
}

variable "existing_vpc" {
  description = "Use this VPC instead of creating one: its ID, CIDR, private subnet IDs, S3 gateway endpoint ID and the S3 prefix list ID, and how its private subnets reach the EC2, Auto Scaling and STS APIs (the nodes complete their lifecycle hooks there): `interface_endpoints = true` when the VPC has those interface endpoints (private DNS on, 443 open from the VPC's CIDR), or `api_egress_cidr_blocks` (e.g. `[\"0.0.0.0/0\"]`) for HTTPS through a NAT path. Null = create a VPC (with the endpoints)."
  type = object({
    vpc_id                 = string
    cidr_block             = string
    private_subnet_ids     = list(string)
    s3_endpoint_id         = string
    s3_prefix_list_id      = string
    interface_endpoints    = optional(bool, false)
    api_egress_cidr_blocks = optional(list(string), [])
  })
  default = null

  validation {
    # Terraform's || does not short-circuit: a conditional guards the null case.
    condition = var.existing_vpc == null ? true : (
      can(regex("^vpc-", var.existing_vpc.vpc_id)) &&
      can(regex("^vpce-", var.existing_vpc.s3_endpoint_id)) &&
      can(regex("^pl-", var.existing_vpc.s3_prefix_list_id)) &&
      length(var.existing_vpc.private_subnet_ids) >= 2
    )
    error_message = "existing_vpc needs vpc-, vpce- and pl- IDs and at least 2 private subnets."
  }

  validation {
    condition = var.existing_vpc == null ? true : (
      var.existing_vpc.interface_endpoints || length(var.existing_vpc.api_egress_cidr_blocks) > 0
    )
    error_message = "existing_vpc must say how the nodes reach the EC2, Auto Scaling and STS APIs: interface_endpoints = true (the VPC has those interface endpoints) or api_egress_cidr_blocks (HTTPS through a NAT path, e.g. [\"0.0.0.0/0\"]). Without either, no node can complete its lifecycle hook and every instance is abandoned."
  }

  validation {
    condition     = var.existing_vpc == null ? true : alltrue([for c in var.existing_vpc.api_egress_cidr_blocks : can(cidrnetmask(c))])
    error_message = "existing_vpc.api_egress_cidr_blocks must be IPv4 CIDRs."
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

variable "zookeeper_count" {
  description = "Number of ZooKeeper nodes: 1, 3, 5 or 7."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3, 5, 7], var.zookeeper_count)
    error_message = "zookeeper_count must be 1, 3, 5 or 7."
  }
}

variable "master_count" {
  description = "Number of Mesos masters: 1, 3, 5 or 7."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3, 5, 7], var.master_count)
    error_message = "master_count must be 1, 3, 5 or 7."
  }
}

variable "agent_count" {
  description = "Initial number of Mesos agents (the autoscaler changes it afterwards)."
  type        = number
  default     = 3

  validation {
    condition     = var.agent_count >= 0
    error_message = "agent_count must be >= 0."
  }
}

variable "agent_min_size" {
  description = "Fewest agents the autoscaler may keep."
  type        = number
  default     = 1

  validation {
    condition     = var.agent_min_size >= 0
    error_message = "agent_min_size must be >= 0."
  }
}

variable "agent_max_size" {
  description = "Most agents the autoscaler may start."
  type        = number
  default     = 20

  validation {
    condition     = var.agent_max_size >= 1
    error_message = "agent_max_size must be >= 1."
  }
}

variable "instance_types" {
  description = "EC2 instance type per role."
  type        = object({ zookeeper = string, master = string, agent = string })
  default     = { zookeeper = "m6i.large", master = "m6i.large", agent = "m6i.xlarge" }

  validation {
    condition     = alltrue([for t in values(var.instance_types) : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "instance_types must look like m6i.large."
  }
}

variable "agent_attributes" {
  description = "Mesos attributes of the agents (`mesos:attributes` tag)."
  type        = map(string)
  default     = {}
}

variable "autoscaler_zip_path" {
  description = "Deployment zip of the autoscaler Lambda (`bootstrap` at its root), built from the workspace."
  type        = string

  validation {
    condition     = endswith(var.autoscaler_zip_path, ".zip")
    error_message = "autoscaler_zip_path must name a .zip file."
  }
}

variable "autoscaler_architecture" {
  description = "Architecture the autoscaler's `bootstrap` was built for (x86_64 or arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.autoscaler_architecture)
    error_message = "autoscaler_architecture must be x86_64 or arm64."
  }
}

variable "public_zone" {
  description = "Make `<cluster_name>.<top_fqdn>` a public zone delegated from `parent_zone_id` (default: private zone of the VPC)."
  type        = bool
  default     = false
}

variable "parent_zone_id" {
  description = "Zone ID of `top_fqdn` (only with `public_zone`)."
  type        = string
  default     = ""
}

variable "break_glass_principal_arns" {
  description = "IAM roles/users that may read, write and delete the bucket's objects from outside the VPC endpoint (the Terraform caller is added automatically). Listing the bucket and reading or changing its settings is left to IAM, from anywhere: Terraform's refresh needs it."
  type        = list(string)
  default     = []
}

variable "client_cidr_blocks" {
  description = "CIDRs that may reach the internal NLBs. Empty = the VPC's CIDR."
  type        = list(string)
  default     = []
}

variable "agent_egress_cidr_blocks" {
  description = "CIDRs the agents' tasks may reach on any port."
  type        = list(string)
  default     = []
}

variable "mesos_zk_through_load_balancer" {
  description = "Masters and agents reach ZooKeeper through the zookeeper NLB's name, `zookeeper.<cluster>.<top_fqdn>:2181` (`mesos:zk-endpoint`), which stays right as members are replaced. False gives them the member addresses of their first boot instead: only for a place without the NLB or its DNS name (the booted-image test)."
  type        = bool
  default     = true
}

variable "zookeeper_tls" {
  description = "ZooKeeper members talk to each other over mutual TLS only (quorum TLS), and serve TLS clients on 2281 (also through the zookeeper NLB), with certificates from a cluster CA mesos-boot creates on the first boot (`mesos:zk-tls`). Mesos keeps the plain port 2181 (digest-authenticated). Turning it on or off in a running ensemble needs every member replaced at once; see the repository's README.md, \"Threat model\"."
  type        = bool
  default     = true
}

variable "lb_deletion_protection" {
  description = "Deletion protection of the NLBs."
  type        = bool
  default     = true
}

variable "force_destroy_bucket" {
  description = "Let `terraform destroy` delete the bucket with its objects."
  type        = bool
  default     = false
}

variable "wait_for_capacity_timeout" {
  description = "How long Terraform waits for each ASG's instances to be InService (\"0\" = do not wait). Null = twice the launch hook's timeout plus 5 minutes (35m); see the node module."
  type        = string
  default     = null

  # The node module checks it against the hook's timeout; repeated so that the plan names it
  # even when another variable is wrong too.
  validation {
    condition = var.wait_for_capacity_timeout == null ? true : (
      !can(regex("^[0-9]+[smh]?$", var.wait_for_capacity_timeout)) ? false : (
        tonumber(regex("^[0-9]+", var.wait_for_capacity_timeout)) == 0 ||
        tonumber(regex("^[0-9]+", var.wait_for_capacity_timeout)) * lookup({ "s" = 1, "m" = 60, "h" = 3600 }, replace(var.wait_for_capacity_timeout, "/^[0-9]+/", ""), 1) > var.lifecycle_hook_heartbeat_timeout
      )
    )
    error_message = "wait_for_capacity_timeout must be 0 or a duration (like 35m) longer than the launch hook's timeout (lifecycle_hook_heartbeat_timeout, ${var.lifecycle_hook_heartbeat_timeout} s): a shorter wait fails the first apply while instances are still joining and taints the group, whose replacement would meet stale ensemble entries."
  }
}

variable "lifecycle_hook_heartbeat_timeout" {
  description = "Seconds a launching instance may stay in Pending:Wait before its launch hook abandons it (mesos-boot completes it earlier). Changing it updates the hooks in place; no group is replaced."
  type        = number
  default     = 900

  validation {
    condition     = var.lifecycle_hook_heartbeat_timeout >= 30 && var.lifecycle_hook_heartbeat_timeout <= 7200
    error_message = "lifecycle_hook_heartbeat_timeout must be between 30 and 7200 seconds."
  }
}

variable "autoscaler_reserved_concurrency" {
  description = "Reserved concurrency of the autoscaler Lambda (1 = never two runs at once). Null = none (accounts with a low concurrency quota refuse a reservation)."
  type        = number
  default     = null
}

variable "operator_access" {
  description = "How operators reach a node: \"none\", or \"ssm\" (Session Manager shells and port forwarding: the nodes' roles get the least the SSM agent needs, a new VPC gets the ssm, ssmmessages and ec2messages endpoints; the AMI must carry the agent, see packer's ssm_agent_deb_url). With an existing VPC, give it those endpoints or a NAT path."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "ssm"], var.operator_access)
    error_message = "operator_access must be \"none\" or \"ssm\"."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic of the cluster's CloudWatch alarms (unhealthy NLB targets, groups below their desired capacity, autoscaler errors; see modules/alarms). Null = no alarms."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource (and to the instances)."
  type        = map(string)
  default     = {}

  # Instance metadata tags are on: EC2 refuses instance tag keys with a space or `/`.
  validation {
    condition = alltrue([
      for k, v in var.tags :
      can(regex("^[A-Za-z0-9+\\-=._:@]{1,128}$", k)) && !contains([".", "..", "_index"], k) && !startswith(lower(k), "aws:") && length(v) <= 256
    ])
    error_message = "tags: keys must be 1-128 characters of letters, digits and + - = . _ : @ (no space or /, not `.`, `..`, `_index`, not starting with aws:), values at most 256 characters."
  }
}
