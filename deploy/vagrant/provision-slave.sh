#!/usr/bin/env bash
# Slave (192.168.50.3): load the runtime image the master saved (no registry), then join the swarm
# with the token the master left in the shared folder. Runs on every `vagrant up` (a slave that was
# halted while the master built a newer image loads it) and is idempotent. Usage: provision-slave.sh <address>
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
# stuck half-joined leaves it first. The manager must answer first: the shared folder may still hold
# the address of a master that was destroyed (a trigger removes it with the master, but a crashed
# host may not have run it).
cluster="$(cat "$SHARE/cluster-id" 2>/dev/null || true)"
state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [[ "$state" != active || "$(cat /etc/tarsd/cluster-id 2>/dev/null || true)" != "$cluster" ]]; then
  manager="$(cat "$SHARE/manager-addr")"
  if ! timeout 5 bash -c ": </dev/tcp/${manager%:*}/${manager##*:}" 2>/dev/null; then
    echo "the swarm manager $manager does not answer: vagrant up master (or vagrant provision master) first" >&2
    exit 1
  fi
  [[ "$state" == inactive ]] || docker swarm leave --force || true
  docker swarm join --advertise-addr "$ADDR" --token "$(cat "$SHARE/worker-token")" "$manager"
  mkdir -p /etc/tarsd
  echo "$cluster" >/etc/tarsd/cluster-id
fi
echo "slave $ADDR: image $image loaded, swarm $(docker info --format '{{.Swarm.LocalNodeState}}')"
