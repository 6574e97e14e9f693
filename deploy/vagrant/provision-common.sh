#!/usr/bin/env bash
# Both VMs: Docker from Ubuntu's own packages (docker.io, and docker-buildx: the image build uses
# BuildKit, which the docker CLI refuses to run without it), the NFS client. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in docker.io docker-buildx nfs-common openssl ca-certificates; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

systemctl enable --now docker >/dev/null
id -nG vagrant 2>/dev/null | grep -qw docker || usermod -aG docker vagrant
