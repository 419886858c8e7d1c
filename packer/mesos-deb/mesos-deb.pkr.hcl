# Step 1 of the image build: Mesos as a Debian 12 .deb, built from the Apache source release
# (pinned version and SHA-256) in a throw-away Debian 12 container. The .deb is copied to
# `output_dir`, and the build tools never reach the cluster's image (step 2,
# ../mesos-boot.pkr.hcl, installs only the .deb). Keep the .deb in the cluster bucket or an
# artifact store (terraform/README.md, "Deployment guide", steps 2 and 3).

locals {
  deb = "mesos_${var.mesos_version}-1_amd64.deb"
  # Found from this directory (path.root), wherever packer runs.
  output_dir = var.output_dir != "" ? var.output_dir : "${path.root}/out"
}

# A Debian 12 container on the operator's (or CI's) machine: nothing is launched in AWS, and
# the container with its compilers is discarded after the .deb is copied out.
source "docker" "mesos-deb" {
  image   = var.builder_image
  discard = true
  # An amd64 container on any machine (on arm64 that needs QEMU's binfmt handlers): the .deb is
  # for the x86_64 AMI. build-deb.sh refuses any other architecture rather than mislabel it.
  run_command = ["-d", "-i", "-t", "--platform=linux/amd64", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
}

build {
  sources = ["source.docker.mesos-deb"]

  provisioner "shell" {
    execute_command = "sh -eu '{{ .Path }}'"
    environment_vars = [
      "DEBIAN_FRONTEND=noninteractive",
      "MESOS_VERSION=${var.mesos_version}",
      "MESOS_SOURCE_URL=${var.mesos_source_url}",
      "MESOS_SOURCE_SHA256=${var.mesos_source_sha256}",
      "MESOS_DEB=/tmp/${local.deb}",
    ]
    script = "${path.root}/build-deb.sh"
  }

  provisioner "file" {
    direction   = "download"
    source      = "/tmp/${local.deb}"
    destination = "${local.output_dir}/${local.deb}"
  }

  provisioner "file" {
    direction   = "download"
    source      = "/tmp/${local.deb}.sha256"
    destination = "${local.output_dir}/${local.deb}.sha256"
  }
}
