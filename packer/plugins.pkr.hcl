# Packer >= 1.10 ships no builder: `packer init packer` installs this one first (guide step 3).
# Debian 12's packer (1.6.6, CI's) has the builders built in and does not know this block:
# tests/terraform validates the templates without this file there (see "Verified only on paper").
packer {
  required_version = ">= 1.10.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0, < 2.0.0"
    }
  }
}
