#!/usr/bin/env bash
# Slave (192.168.50.3): load the runtime image the master saved (no registry), then join the swarm
# with the token the master left in the shared folder. Idempotent. Usage: provision-slave.sh <address>
set -euo pipefail

ADDR="${1:-192.168.50.3}"
ROOT="${TARSD_ROOT:-/vagrant}"
SHARE="$ROOT/.artifacts/swarm"

if [[ ! -s "$ROOT/.artifacts/image" || ! -s "$SHARE/worker-token" ]]; then
  echo "the master has not been provisioned yet (no $ROOT/.artifacts/image or $SHARE/worker-token): vagrant up master first" >&2
  exit 1
fi

image="$(cat "$ROOT/.artifacts/image")"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  docker load -i "$ROOT/.artifacts/tarsd-runtime.tar"
fi

# Join the master's current swarm. A slave still in an older one (the master was recreated) or
# stuck half-joined leaves it first.
cluster="$(cat "$SHARE/cluster-id" 2>/dev/null || true)"
state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [[ "$state" != active || "$(cat /etc/tarsd/cluster-id 2>/dev/null || true)" != "$cluster" ]]; then
  [[ "$state" == inactive ]] || docker swarm leave --force || true
  docker swarm join --advertise-addr "$ADDR" --token "$(cat "$SHARE/worker-token")" "$(cat "$SHARE/manager-addr")"
  mkdir -p /etc/tarsd
  echo "$cluster" >/etc/tarsd/cluster-id
fi
echo "slave $ADDR: image $image loaded, swarm $(docker info --format '{{.Swarm.LocalNodeState}}')"
