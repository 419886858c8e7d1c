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
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-20 characters of lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "top_fqdn" {
  description = "Parent domain: the cluster's zone and bucket are `<cluster_name>.<top_fqdn>`."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.top_fqdn))
    error_message = "top_fqdn must be a lower-case DNS name without a trailing dot."
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
  description = "Use this VPC instead of creating one: its ID, CIDR, private subnet IDs, S3 gateway endpoint ID and the S3 prefix list ID. Null = create a VPC."
  type = object({
    vpc_id             = string
    cidr_block         = string
    private_subnet_ids = list(string)
    s3_endpoint_id     = string
    s3_prefix_list_id  = string
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
  description = "IAM roles/users allowed to reach the bucket outside the VPC endpoint (the Terraform caller is added automatically)."
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
  description = "How long Terraform waits for each ASG's instances to be InService (\"0\" = do not wait)."
  type        = string
  default     = "15m"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
