variable "builder_image" {
  type        = string
  default     = "debian:12"
  description = "Docker image Mesos is compiled in: Debian 12, the cluster image's release (pin a digest, debian@sha256:..., for a reproducible build)."
}

variable "mesos_version" {
  type        = string
  default     = "1.11.0"
  description = "Apache Mesos release to build."
}

variable "mesos_source_url" {
  type        = string
  default     = "https://archive.apache.org/dist/mesos/1.11.0/mesos-1.11.0.tar.gz"
  description = "The Apache source release tarball of mesos_version."
}

variable "mesos_source_sha256" {
  type        = string
  default     = "ce08cb648a21502a4a0c45d240a596d9ac860fcaf717f9a3dc986da9d406fe34"
  description = "SHA-256 of the tarball at mesos_source_url (pinned; change it together with mesos_version)."

  validation {
    condition     = length(var.mesos_source_sha256) == 64 && regex_replace(var.mesos_source_sha256, "[0-9a-f]", "") == ""
    error_message = "The mesos_source_sha256 variable must be a SHA-256 (64 hex digits)."
  }
}

variable "output_dir" {
  type        = string
  default     = ""
  description = "Local directory the .deb is downloaded to. Empty: `packer/mesos-deb/out` (found from this directory, wherever packer runs)."
}
