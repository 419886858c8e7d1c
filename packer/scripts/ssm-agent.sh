#!/bin/sh
# The SSM agent, for operator_access = "ssm" (terraform/sample): Session Manager shells and port
# forwarding. Debian's AMIs do not carry it. AWS's .deb from SSM_AGENT_DEB_URL (a versioned
# URL), checked against the pinned SSM_AGENT_DEB_SHA256; without a URL the image has no agent
# (packer/local-image.sh, which cannot reach AWS, and clusters with operator_access = "none").
set -eu

if [ -z "${SSM_AGENT_DEB_URL:-}" ]; then
  echo "ssm-agent.sh: no ssm_agent_deb_url: this image has no SSM agent (operator_access = \"ssm\" needs one)"
  exit 0
fi
if ! printf '%s' "${SSM_AGENT_DEB_SHA256:-}" | grep -Eq '^[0-9a-f]{64}$'; then
  echo "ssm-agent.sh: ssm_agent_deb_sha256 must be the 64-hex-digit SHA-256 of ${SSM_AGENT_DEB_URL}" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
curl -fsSL --retry 5 -o "${work}/amazon-ssm-agent.deb" "${SSM_AGENT_DEB_URL}"
echo "${SSM_AGENT_DEB_SHA256}  ${work}/amazon-ssm-agent.deb" | sha256sum -c -
apt-get -y install --no-install-recommends "${work}/amazon-ssm-agent.deb"
systemctl enable amazon-ssm-agent.service
apt-get -y clean
