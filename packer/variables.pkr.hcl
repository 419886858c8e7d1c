variable "region" {
  type        = string
  default     = "us-east-1"
  description = "Region the AMI is built in (copy it elsewhere with ami_regions)."
}

variable "ami_regions" {
  type        = list(string)
  default     = []
  description = "Other regions the finished AMI is copied to."
}

variable "ami_name_prefix" {
  type        = string
  default     = "mesos-boot"
  description = "Prefix of the AMI name; a timestamp is appended."
}

variable "instance_type" {
  type        = string
  default     = "m6i.large"
  description = "Instance type of the build (and of the image's first boot test)."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Subnet of the build instance (empty: the default VPC)."
}

variable "source_ami_name" {
  type        = string
  default     = "debian-12-amd64-*"
  description = "Name filter of the base image: Debian 12 (bookworm), amd64."
}

variable "source_ami_owner" {
  type        = string
  default     = "136693071363"
  description = "Owner of the base image (136693071363 = Debian's official cloud images)."
}

variable "ssh_username" {
  type        = string
  default     = "admin"
  description = "Login user of the base image (Debian: admin)."
}

variable "mesos_boot_binary" {
  type        = string
  default     = ""
  description = "The static mesos-boot binary (cargo build --release --target x86_64-unknown-linux-musl). Empty: the workspace's, `<repository>/target/x86_64-unknown-linux-musl/release/mesos-boot` (found from this directory, wherever packer runs)."
}

variable "mesos_version" {
  type        = string
  default     = "1.11.0"
  description = "Mesos version (checked after the install)."
}

variable "mesos_deb" {
  type        = string
  default     = ""
  description = "Local path of the Mesos .deb built by step 1 (packer build packer/mesos-deb: the Apache source release, pinned version and SHA-256), with its `<mesos_deb>.sha256` beside it. Empty: step 1's output, `packer/mesos-deb/out/mesos_<mesos_version>-1_amd64.deb`. Missing files stop `packer validate` / `packer build` before anything is launched."
}

variable "zookeeper_package" {
  type        = string
  default     = "zookeeper"
  description = "Debian package of ZooKeeper (3.8 in bookworm), used only without zookeeper_release_url (packer/local-image.sh)."
}

variable "ssm_agent_deb_url" {
  type        = string
  default     = ""
  description = "AWS's SSM agent .deb for Debian amd64, at a versioned URL (AWS's SSM agent release notes list them), for terraform/sample's operator_access = \"ssm\". Empty: no agent in the image."
}

variable "ssm_agent_deb_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of ssm_agent_deb_url, pinned by whoever builds the AMI (the build stops on a mismatch, or when a URL is given without it)."
}

variable "zookeeper_release_url" {
  type        = string
  default     = "https://archive.apache.org/dist/zookeeper/zookeeper-3.9.4/apache-zookeeper-3.9.4-bin.tar.gz"
  description = "Apache's binary release of ZooKeeper the AMI carries (3.9.4 or later: Debian 12's 3.8.0 has the DIFF-sync bugs ZOOKEEPER-4646, -4785 and -4394). Empty: Debian's zookeeper_package."
}

variable "zookeeper_release_sha512" {
  type        = string
  default     = ""
  description = "SHA-512 of zookeeper_release_url, pinned by whoever builds the AMI from Apache's `<url>.sha512` (the build also compares it with that file, and stops on a mismatch or an empty pin)."
}
