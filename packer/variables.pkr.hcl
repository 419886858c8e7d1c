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

variable "mesos_install" {
  type        = string
  default     = "package"
  description = "How Mesos gets onto the image: package (a .deb from mesos_package_url) or source (built from mesos_source_url)."
}

variable "mesos_version" {
  type        = string
  default     = "1.11.0"
  description = "Mesos version (checked after the install)."
}

variable "mesos_package_url" {
  type        = string
  default     = ""
  description = "URL of a Mesos .deb for Debian 12 (mesos_install = package), e.g. from your own artifact store."
}

variable "mesos_package_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of the .deb at mesos_package_url (required with it)."
}

variable "mesos_source_url" {
  type        = string
  default     = ""
  description = "URL of the Mesos source tarball (mesos_install = source)."
}

variable "mesos_source_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of the tarball at mesos_source_url (required with it)."
}

variable "zookeeper_package" {
  type        = string
  default     = "zookeeper"
  description = "Debian package of ZooKeeper (3.8 in bookworm)."
}
