# One AMI for every role (zookeeper, master, agent): the role is chosen at boot by the
# instance's user-data and `mesos:role` tag, so one image is built, tested by
# `mesos-boot check-image` and rolled out, instead of three that can drift apart.

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
  # Every local path is found from this directory (path.root), not from where packer runs:
  # `packer build packer` from the repository's root and `packer build .` in packer/ are the same.
  mesos_boot_binary = var.mesos_boot_binary != "" ? var.mesos_boot_binary : "${path.root}/../target/x86_64-unknown-linux-musl/release/mesos-boot"
  mesos_deb         = var.mesos_deb != "" ? var.mesos_deb : "${path.root}/mesos-deb/out/mesos_${var.mesos_version}-1_amd64.deb"
}

source "amazon-ebs" "mesos" {
  region        = var.region
  ami_regions   = var.ami_regions
  ami_name      = "${var.ami_name_prefix}-${local.timestamp}"
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ssh_username  = var.ssh_username

  source_ami_filter {
    filters = {
      name                = var.source_ami_name
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = [var.source_ami_owner]
    most_recent = true
  }

  # (metadata_options, to require IMDSv2 on the build instance too, needs packer >= 1.7:
  # Debian's packer 1.6.6 does not know the block.)

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 16
    volume_type           = "gp3"
    throughput            = 125
    iops                  = 3000
    encrypted             = true
    delete_on_termination = true
  }

  tags = {
    Name          = "${var.ami_name_prefix}-${local.timestamp}"
    "mesos:image" = "mesos-boot"
    MesosVersion  = var.mesos_version
  }
}

build {
  sources = ["source.amazon-ebs.mesos"]

  provisioner "file" {
    source      = local.mesos_boot_binary
    destination = "/tmp/mesos-boot"
  }

  # Mesos from step 1 (mesos-deb/): only the .deb enters this image, never a compiler. Without
  # it, validation already fails: "Bad source 'mesos-deb/out/mesos_...deb'".
  provisioner "file" {
    source      = local.mesos_deb
    destination = "/tmp/mesos.deb"
  }

  provisioner "file" {
    source      = "${local.mesos_deb}.sha256"
    destination = "/tmp/mesos.deb.sha256"
  }

  provisioner "file" {
    source      = "${path.root}/../systemd/"
    destination = "/tmp/systemd"
  }

  provisioner "file" {
    source      = "${path.root}/../bootstrap/templates/"
    destination = "/tmp/templates"
  }

  provisioner "shell" {
    execute_command = "sudo -E sh -eu '{{ .Path }}'"
    environment_vars = [
      "DEBIAN_FRONTEND=noninteractive",
      "ZOOKEEPER_PACKAGE=${var.zookeeper_package}",
      "ZOOKEEPER_RELEASE_URL=${var.zookeeper_release_url}",
      "ZOOKEEPER_RELEASE_SHA512=${var.zookeeper_release_sha512}",
      "SSM_AGENT_DEB_URL=${var.ssm_agent_deb_url}",
      "SSM_AGENT_DEB_SHA256=${var.ssm_agent_deb_sha256}",
      "MESOS_VERSION=${var.mesos_version}",
    ]
    scripts = [
      "${path.root}/scripts/base.sh",
      "${path.root}/scripts/zookeeper.sh",
      "${path.root}/scripts/mesos.sh",
      "${path.root}/scripts/ssm-agent.sh",
      "${path.root}/scripts/mesos-boot.sh",
    ]
  }

  # The image is only kept if mesos-boot itself finds everything it needs in it.
  provisioner "shell" {
    execute_command = "sudo -E sh -eu '{{ .Path }}'"
    inline = [
      "/usr/local/bin/mesos-boot check-image",
      "cloud-init clean --logs --seed",
      "rm -f /etc/machine-id /var/lib/dbus/machine-id && touch /etc/machine-id",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
