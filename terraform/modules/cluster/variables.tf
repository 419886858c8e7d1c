variable "cluster_name" {
  description = "Name of the Mesos cluster; also the first label of the zone and bucket names (`<cluster_name>.<top_fqdn>`) and the value of the `mesos:cluster` tag."
  type        = string

  validation {
    condition = (can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.cluster_name)) &&
    !startswith(var.cluster_name, "xn--") && !startswith(var.cluster_name, "sthree-") && !startswith(var.cluster_name, "amzn-s3-demo-"))
    error_message = "cluster_name must be a DNS label of 2-63 lower-case letters, digits and dashes, starting with a letter, not ending with a dash, and not starting with xn--, sthree- or amzn-s3-demo- (S3 refuses such bucket names)."
  }
}

variable "top_fqdn" {
  description = "Parent DNS domain, without a trailing dot (e.g. `mesos.example.com`)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.top_fqdn)) && !endswith(var.top_fqdn, ".mrap")
    error_message = "top_fqdn must be a lower-case DNS name without a trailing dot (and not ending in .mrap, which S3 refuses in bucket names)."
  }

  # The bucket is `<cluster_name>.<top_fqdn>`: S3 bucket names have at most 63 characters.
  validation {
    condition     = length("${var.cluster_name}.${var.top_fqdn}") <= 63
    error_message = "`<cluster_name>.<top_fqdn>` is the bucket name and may have at most 63 characters: top_fqdn may have at most ${62 - length(var.cluster_name)} with this cluster_name."
  }
}

variable "vpc_id" {
  description = "VPC the private zone is attached to and the nodes run in."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123abcd."
  }
}

variable "s3_endpoint_id" {
  description = "ID of the VPC's S3 gateway endpoint; the bucket policy denies every request that does not come through it."
  type        = string

  validation {
    condition     = can(regex("^vpce-[0-9a-f]+$", var.s3_endpoint_id))
    error_message = "s3_endpoint_id must look like vpce-0123abcd."
  }
}

variable "public_zone" {
  description = "Create a public hosted zone delegated from `parent_zone_id` instead of a private zone attached to the VPC."
  type        = bool
  default     = false
}

variable "parent_zone_id" {
  description = "Route53 zone ID of `top_fqdn`; required when `public_zone` is true (the NS delegation record is written there)."
  type        = string
  default     = ""

  validation {
    condition     = var.parent_zone_id == "" || can(regex("^Z[0-9A-Z]+$", var.parent_zone_id))
    error_message = "parent_zone_id must be empty or a Route53 zone ID (Z...)."
  }

  validation {
    condition     = !var.public_zone || var.parent_zone_id != ""
    error_message = "parent_zone_id is required when public_zone is true."
  }
}

variable "shared_config_key" {
  description = "Object key of the Exhibitor shared config (java .properties) inside the cluster bucket."
  type        = string
  default     = "exhibitor/exhibitor.properties"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()/-]+$", var.shared_config_key)) && !startswith(var.shared_config_key, "/")
    error_message = "shared_config_key must be a relative S3 key of safe characters."
  }
}

variable "break_glass_principal_arns" {
  description = "Administrator IAM principal ARNs (roles or users, not STS session ARNs: operators, CI) allowed to read, write and delete the bucket's objects from outside the VPC endpoint. The bucket's settings are not restricted to the endpoint, so every principal IAM allows can plan and apply."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.break_glass_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", a))])
    error_message = "break_glass_principal_arns must be IAM role or user ARNs."
  }
}

variable "allow_terraform_caller" {
  description = "Add the principal running Terraform to the break-glass list: object access from outside the VPC endpoint (the destroy's emptying of the bucket with `force_destroy`). Plans need no exemption: HeadBucket (s3:ListBucket) and the bucket's settings are not restricted to the endpoint."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which old versions of the shared config are deleted."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "backup_noncurrent_expiration_days" {
  description = "Days after which the pruned backups (noncurrent versions under `<shared_config_key>.backups/`) are deleted; their delete markers go once alone. serve keeps the newest sets current itself."
  type        = number
  default     = 1

  validation {
    condition     = var.backup_noncurrent_expiration_days >= 1 && floor(var.backup_noncurrent_expiration_days) == var.backup_noncurrent_expiration_days
    error_message = "backup_noncurrent_expiration_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with its objects and versions (tests, throw-away clusters)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
