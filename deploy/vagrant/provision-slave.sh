#!/usr/bin/env bash
# Slave (192.168.50.3): load the runtime image the master built (no registry), then join the swarm
# with the token the master left, both read from the master's hand-off export (NFS, read-only, to
# this node alone). Runs on every `vagrant up` (a slave that was halted while the master built a
# newer image loads it) and is idempotent. Usage: provision-slave.sh <slave address> <master address>
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; fi # usage: the comment above

ADDR="${1:-192.168.50.3}"
MASTER="${2:-192.168.50.2}"
HANDOFF=/var/lib/tarsd/artifacts
MOUNT=/run/tarsd-handoff

if ! timeout 5 bash -c ": </dev/tcp/$MASTER/2049" 2>/dev/null; then
  echo "the master $MASTER does not answer (NFS): vagrant up master (or vagrant provision master) first" >&2
  exit 1
fi
mkdir -p "$MOUNT"
mountpoint -q "$MOUNT" || mount -t nfs -o ro,nfsvers=4.2,soft,timeo=100,retrans=2 "$MASTER:$HANDOFF" "$MOUNT"
trap 'umount "$MOUNT" 2>/dev/null || umount -l "$MOUNT" || true' EXIT
SHARE="$MOUNT/swarm"
if [[ ! -s "$MOUNT/image" || ! -s "$SHARE/worker-token" ]]; then
  echo "the master has not been provisioned yet (no image or join token in $MASTER:$HANDOFF): vagrant up master first" >&2
  exit 1
fi

image="$(cat "$MOUNT/image")"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  docker load -q -i "$MOUNT/tarsd-runtime.tar"
fi

# Join the master's current swarm. A slave still in an older one (the master was recreated) or
# stuck half-joined leaves it first.
cluster="$(cat "$SHARE/cluster-id")"
state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [[ "$state" != active || "$(cat /etc/tarsd/cluster-id 2>/dev/null || true)" != "$cluster" ]]; then
  manager="$(cat "$SHARE/manager-addr")"
  [[ "$state" == inactive ]] || docker swarm leave --force || true
  docker swarm join --advertise-addr "$ADDR" --token "$(cat "$SHARE/worker-token")" "$manager"
  mkdir -p /etc/tarsd
  echo "$cluster" >/etc/tarsd/cluster-id
fi
echo "slave $ADDR: image $image loaded, swarm $(docker info --format '{{.Swarm.LocalNodeState}}')"
