#!/usr/bin/env bash
# Both VMs: Docker from the distribution's own packages (docker.io, plus docker-buildx where the
# distribution has it: Ubuntu's docker CLI refuses BuildKit without it; Debian 12's Docker 20.10 has
# no such package and deploy/build-image then uses the classic builder), the NFS client, and the
# images found in the shared folder's .artifacts/preload/*.tar (`docker save` archives: where no
# registry can be reached, e.g. the two-VM test, third-party images come this way under the names
# the stack uses). Idempotent: an archive already loaded is not loaded again. Docker's container logs
# are rotated (its daemon configuration, below). Sourced (tests/deploy/bounded-disks.test.ts), it only
# defines its functions. Usage (as root, in a VM): provision-common.sh
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; fi # usage: the comment above
export DEBIAN_FRONTEND=noninteractive
ROOT="${TARSD_ROOT:-/vagrant}"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Docker's container logs, rotated. Docker keeps each container's output in a log that grows without
# end (APP 1 writes a line per request); this bounds every container's, in the daemon's configuration:
# it applies to every container the daemon creates once it has read it, the stack's tasks and anything
# else run on the VM. The driver stays json-file, Docker's default: `docker logs` and `docker service
# logs` (deploy/redeploy prints a failed task's last lines with it) read it as before; `local` rotates
# by default too, but in a format only Docker reads, for no gain here.
# Sizes, against the smallest disk (deploy/vagrant/build-box: DISK_GB=16) and the containers there:
#   one container: 3 files of at most 5 MiB (Docker's "m") = 15 MiB (an APP 1 request's line is ~280
#   bytes as json-file keeps it: its last ~55 000 requests);
#   the master runs at most 13 of the stack's tasks (8 pinned to the manager, Alertmanager's among them,
#   the 2 global ones, APP 1's 3 while the slave is away) and swarm keeps 5 tasks per slot (the running
#   one and 4 stopped, whose containers and logs stay): 13 x 5 x 15 MiB = 975 MiB at most, 195 MiB for
#   the running ones; the slave holds fewer. deploy/README.md ("Disk budget") adds it up with the other
#   bounded consumers.
DOCKER_DAEMON_JSON='{
  "log-driver": "json-file",
  "log-opts": {
    "max-size": "5m",
    "max-file": "3"
  }
}'

# docker_daemon_config FILE: Docker's daemon configuration FILE with the log settings above, every
# other key there kept (jq, installed if missing, merges them; a log driver other than json-file goes
# with its log-opts, which json-file would refuse). Sets docker_config_changed=true when it rewrote it
# (dockerd reads it only when it starts).
docker_daemon_config() {
  local file="$1" current="" wanted
  docker_config_changed=false
  [[ -f "$file" ]] && current="$(cat "$file")"
  if [[ -z "${current//[[:space:]]/}" || "$current" == "$DOCKER_DAEMON_JSON" ]]; then
    wanted="$DOCKER_DAEMON_JSON"
  else
    command -v jq >/dev/null || { apt-get update -q && apt-get install -y -q jq; }
    wanted="$(jq --argjson ours "$DOCKER_DAEMON_JSON" \
      'if (.["log-driver"] // "json-file") == $ours["log-driver"] then . * $ours else . + $ours end' <<<"$current")" ||
      { echo "provision-common: $file is not a JSON object: fix or remove it" >&2; return 1; }
  fi
  [[ "$current" == "$wanted" ]] && return 0
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$wanted" >"$file.tmp"
  mv "$file.tmp" "$file"
  docker_config_changed=true
}

# Sourced: the functions only.
(return 0 2>/dev/null) && return 0

# Before Docker is installed or started, so that its first start reads it.
docker_was_running=false
if systemctl is-active --quiet docker 2>/dev/null; then docker_was_running=true; fi
docker_daemon_config /etc/docker/daemon.json

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
# A daemon already running (a VM provisioned before the rotation) reads the new configuration only when
# it starts again, and a container keeps the log settings it was created with: restart it. Swarm then
# replaces this node's tasks with new containers, created with the new settings (a minute or so without
# them, once); on a manager, wait until the swarm answers again before the next provisioner uses it.
if [[ "$docker_config_changed" == true && "$docker_was_running" == true ]]; then
  echo "Docker's log rotation changed: restarting Docker (swarm restarts this node's tasks)"
  systemctl restart docker
  if [[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" == true ]]; then
    for _ in $(seq 60); do docker node ls >/dev/null 2>&1 && break; sleep 2; done
  fi
fi
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
