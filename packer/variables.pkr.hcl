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
  default     = "../target/x86_64-unknown-linux-musl/release/mesos-boot"
  description = "The static mesos-boot binary (cargo build --release --target x86_64-unknown-linux-musl)."
}

variable "mesos_version" {
  type        = string
  default     = "1.11.0"
  description = "Mesos version (checked after the install)."
}

variable "mesos_deb" {
  type        = string
  default     = "mesos-deb/out/mesos_1.11.0-1_amd64.deb"
  description = "Local path of the Mesos .deb built by step 1 (packer build mesos-deb: the Apache source release, pinned version and SHA-256), with its `<mesos_deb>.sha256` beside it. Missing files stop `packer validate` / `packer build` before anything is launched."
}

variable "zookeeper_package" {
  type        = string
  default     = "zookeeper"
  description = "Debian package of ZooKeeper (3.8 in bookworm)."
}
