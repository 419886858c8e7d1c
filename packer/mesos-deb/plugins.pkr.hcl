# Packer >= 1.10 ships no builder: `packer init packer/mesos-deb` installs this one first (guide
# step 2). Debian 12's packer (1.6.6, CI's) has the builders built in and does not know this
# block: tests/terraform validates the templates without this file there.
packer {
  required_version = ">= 1.10.0"
  required_plugins {
    docker = {
      source  = "github.com/hashicorp/docker"
      version = ">= 1.0.8, < 2.0.0"
    }
  }
}
