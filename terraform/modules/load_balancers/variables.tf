variable "cluster_name" {
  description = "Name of the Mesos cluster (name prefix of the load balancers)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,17}[a-z0-9]$", var.cluster_name)) && !startswith(var.cluster_name, "internal-")
    error_message = "cluster_name must be 2-19 characters of lower-case letters, digits and dashes, starting with a letter, not ending with a dash and not starting with \"internal-\": `<cluster_name>-mesos-master` is a load balancer name (at most 32 characters)."
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

variable "subnet_ids" {
  description = "Private subnets of the internal NLBs (one per AZ)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be one or more subnet IDs."
  }
}

variable "master_security_group_ids" {
  description = "Security groups of the mesos-master NLB."
  type        = list(string)
}

variable "zookeeper_security_group_ids" {
  description = "Security groups of the zookeeper NLB."
  type        = list(string)
}

variable "zone_id" {
  description = "Route53 zone `<cluster>.<top_fqdn>` that gets the alias records."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Z]{1,32}$", var.zone_id))
    error_message = "zone_id must be a Route53 hosted zone ID."
  }
}

variable "domain" {
  description = "The cluster's domain `<cluster>.<top_fqdn>`; records are `mesos-master.<domain>` and `zookeeper.<domain>`."
  type        = string
}

variable "master_health_path" {
  description = "HTTP path of the masters' health check on 5050."
  type        = string
  default     = "/master/health"

  validation {
    condition     = startswith(var.master_health_path, "/")
    error_message = "master_health_path must start with /."
  }
}

variable "zookeeper_health_path" {
  description = "HTTP path of mesos-boot serve's health check on the Exhibitor port (8080)."
  type        = string
  default     = "/health"

  validation {
    condition     = startswith(var.zookeeper_health_path, "/")
    error_message = "zookeeper_health_path must start with /."
  }
}

variable "deletion_protection" {
  description = "Protect the NLBs from deletion (turn off before destroying the cluster)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "Bucket for NLB access logs (TLS listeners only log; empty = off)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "zookeeper_tls" {
  description = "ZooKeeper's TLS client port 2281 (`mesos:zk-tls`) through the zookeeper NLB as well."
  type        = bool
  default     = false
}
