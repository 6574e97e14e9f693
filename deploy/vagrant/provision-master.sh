#!/usr/bin/env bash
# Master (192.168.50.2): swarm manager, NFS server for the shared file store, image build, stack deploy.
# Idempotent: every step checks before it acts. Usage: provision-master.sh <advertise address> <subnet>
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ADDR="${1:-192.168.50.2}"
SUBNET="${2:-192.168.50.0/24}"
ROOT="${TARSD_ROOT:-/vagrant}"
SHARE="$ROOT/.artifacts/swarm"
EXPORT_DIR=/srv/tarsd/data
RUNTIME_UID=1000 # user "bun" in the runtime image

# NFS: one directory, mounted as a volume by every APP 1 replica on both nodes.
if ! dpkg-query -W -f='${Status}' nfs-kernel-server 2>/dev/null | grep -q "install ok installed"; then
  apt-get update -q
  apt-get install -y -q nfs-kernel-server
fi
mkdir -p "$EXPORT_DIR/files"
chown -R "$RUNTIME_UID:$RUNTIME_UID" "$EXPORT_DIR"
line="$EXPORT_DIR $SUBNET(rw,sync,no_subtree_check,root_squash)"
if [[ "$(cat /etc/exports.d/tarsd.exports 2>/dev/null || true)" != "$line" ]]; then
  mkdir -p /etc/exports.d
  echo "$line" >/etc/exports.d/tarsd.exports
  exportfs -ra
fi
systemctl enable --now nfs-server >/dev/null

# Swarm: init once; the worker join token goes to the shared folder for the slave (the folder is
# mounted 0750/0640 in the VMs and the file is 0600 on the host: see the Vagrantfile).
# Overlay networks come from 10.20.0.0/16: Docker's default pool (10.0.0.0/8) can hand out
# 10.0.2.0/24, VirtualBox's NAT network, and the VMs would lose their way out.
if [[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]]; then
  docker swarm init --advertise-addr "$ADDR" --listen-addr "$ADDR:2377" \
    --default-addr-pool 10.20.0.0/16 --default-addr-pool-mask-length 24
fi
bash "$ROOT/deploy/vagrant/prune-nodes.sh"
mkdir -p "$SHARE"
token="$(docker swarm join-token -q worker)"
if [[ "$(cat "$SHARE/worker-token" 2>/dev/null || true)" != "$token" ]]; then
  (umask 077 && echo "$token" >"$SHARE/worker-token")
fi
echo "$ADDR:2377" >"$SHARE/manager-addr"

# The swarm's identity: a slave that joined another (older) swarm leaves it and joins this one.
docker info --format '{{.Swarm.Cluster.ID}}' >"$SHARE/cluster-id"

# APP 1 write auth: remembered, so a later `vagrant provision` without TARSD_APP1_AUTH keeps it.
mkdir -p /etc/tarsd
if [[ -n "${TARSD_APP1_AUTH:-}" ]]; then echo "$TARSD_APP1_AUTH" >/etc/tarsd/app1-auth; fi

# Image: build (cached when unchanged) and save for the slave.
bash "$ROOT/deploy/build-image"

# The stack. With the slave already in the swarm, a new image must first be loaded there, or its
# tasks fail ("No such image") and the update rolls back: then the slave's provisioning deploys
# (deploy/vagrant/after-slave.sh, a trigger that runs after it).
if [[ "$(docker node ls --quiet | wc -l)" -le 1 ]]; then
  bash "$ROOT/deploy/vagrant/deploy-stack.sh" "$ADDR"
  bash "$ROOT/deploy/vagrant/urls.sh" "$ADDR"
else
  echo "two nodes in the swarm: the stack is deployed once the slave has loaded the image (vagrant provision slave)"
fi
