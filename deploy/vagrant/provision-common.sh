#!/usr/bin/env bash
# Both VMs: Docker from the distribution's own packages (docker.io, plus docker-buildx where the
# distribution has it: Ubuntu's docker CLI refuses BuildKit without it; Debian 12's Docker 20.10 has
# no such package and deploy/build-image then uses the classic builder), the NFS client, and the
# images found in the shared folder's .artifacts/preload/*.tar (`docker save` archives: where no
# registry can be reached, e.g. the two-VM test, third-party images come this way under the names
# the stack uses). Idempotent: an archive already loaded is not loaded again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
ROOT="${TARSD_ROOT:-/vagrant}"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for pkg in docker.io nfs-common openssl ca-certificates; do installed "$pkg" || missing+=("$pkg"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi
if ! installed docker-buildx && apt-cache show docker-buildx >/dev/null 2>&1; then
  apt-get install -y -q docker-buildx
fi

systemctl enable --now docker >/dev/null
id -nG vagrant 2>/dev/null | grep -qw docker || usermod -aG docker vagrant

shopt -s nullglob
mkdir -p /var/lib/tarsd/preloaded
for archive in "$ROOT"/.artifacts/preload/*.tar; do
  stamp="/var/lib/tarsd/preloaded/$(basename "$archive").loaded"
  mark="$(stat -c '%s %Y' "$archive")"
  [[ "$(cat "$stamp" 2>/dev/null || true)" == "$mark" ]] && continue
  echo "loading images from $archive"
  docker load -q -i "$archive"
  echo "$mark" >"$stamp"
done
