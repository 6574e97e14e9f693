#!/usr/bin/env bash
# Both VMs: Docker from Ubuntu's own packages (docker.io), the NFS client, sane sysctls. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in docker.io nfs-common openssl ca-certificates; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

systemctl enable --now docker >/dev/null
id -nG vagrant 2>/dev/null | grep -qw docker || usermod -aG docker vagrant

# cAdvisor reads /dev/kmsg for OOM events without being privileged (swarm ignores `privileged`).
if [[ "$(sysctl -n kernel.dmesg_restrict)" != 0 ]]; then
  echo "kernel.dmesg_restrict = 0" >/etc/sysctl.d/60-tarsd-cadvisor.conf
  sysctl -q -p /etc/sysctl.d/60-tarsd-cadvisor.conf
fi
