#!/usr/bin/env bash
# Master (192.168.50.2): swarm manager, NFS server for the shared file store, image build, stack deploy.
# Idempotent: every step checks before it acts. Usage: provision-master.sh <master address> <slave address>
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; fi # usage: the comment above
export DEBIAN_FRONTEND=noninteractive

ADDR="${1:-192.168.50.2}"
SLAVE="${2:-192.168.50.3}"
ROOT="${TARSD_ROOT:-/vagrant}"
# What the slave needs from the master (join token, runtime image), kept on the master and exported
# read-only to the slave alone: the synced folder may be a one-way copy (rsync).
export TARSD_ARTIFACTS="${TARSD_ARTIFACTS:-/var/lib/tarsd/artifacts}"
SHARE="$TARSD_ARTIFACTS/swarm"
EXPORT_DIR=/srv/tarsd/data
RUNTIME_UID=1000 # user "bun" in the runtime image

# NFS: the file store, mounted as a volume by every APP 1 replica on both nodes, and the hand-off
# directory. Exported to the two nodes only; the hand-off without root squashing (its token is
# root's, 0600), read-only.
if ! dpkg-query -W -f='${Status}' nfs-kernel-server 2>/dev/null | grep -q "install ok installed"; then
  apt-get update -q
  apt-get install -y -q nfs-kernel-server
fi
mkdir -p "$EXPORT_DIR/files" "$SHARE"
chmod 700 "$TARSD_ARTIFACTS"
chown -R "$RUNTIME_UID:$RUNTIME_UID" "$EXPORT_DIR"
exports="$EXPORT_DIR $ADDR(rw,sync,no_subtree_check,root_squash) $SLAVE(rw,sync,no_subtree_check,root_squash)
$TARSD_ARTIFACTS $SLAVE(ro,sync,no_subtree_check,no_root_squash)"
systemctl enable --now nfs-server >/dev/null
if [[ "$(cat /etc/exports.d/tarsd.exports 2>/dev/null || true)" != "$exports" ]]; then
  mkdir -p /etc/exports.d
  echo "$exports" >/etc/exports.d/tarsd.exports
  exportfs -ra
fi

# Swarm: init once; the worker join token goes to the hand-off directory for the slave.
# Overlay networks come from 10.20.0.0/16: Docker's default pool (10.0.0.0/8) can hand out
# 10.0.2.0/24, VirtualBox's NAT network, and the VMs would lose their way out.
if [[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]]; then
  docker swarm init --advertise-addr "$ADDR" --listen-addr "$ADDR:2377" \
    --default-addr-pool 10.20.0.0/16 --default-addr-pool-mask-length 24 >/dev/null # (it prints the join token)
fi
bash "$ROOT/deploy/vagrant/prune-nodes.sh"
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

# Backups: deploy/backup once a day (tarsd-backup.timer), from a copy of the script and of the modules it
# runs (the shared folder may not be mounted after a reboot), with the settings in /etc/tarsd/backup.env
# (made once here; edit it to change where backups go and how many stay). deploy/README.md, "Backup and restore".
BACKUP_FILES=(deploy/backup deploy/store-backup.ts lib/files/store-snapshot.ts lib/files/store-layout.ts)
BACKUP_LIB=/usr/local/lib/tarsd
rm -rf "$BACKUP_LIB.new"
mkdir -p "$BACKUP_LIB.new"
tar -C "$ROOT" -c "${BACKUP_FILES[@]}" | tar -C "$BACKUP_LIB.new" -x --no-same-owner --no-same-permissions
chmod -R u=rwX,go=rX "$BACKUP_LIB.new"
rm -rf "$BACKUP_LIB"
mv "$BACKUP_LIB.new" "$BACKUP_LIB"
if [[ ! -e /etc/tarsd/backup.env ]]; then
  printf '%s\n' "# deploy/backup's settings (tarsd-backup.service, deploy/README.md)" \
    TARSD_BACKUP_DIR=/var/backups/tarsd TARSD_BACKUP_KEEP=7 >/etc/tarsd/backup.env
fi
install -m 0644 "$ROOT/deploy/systemd/tarsd-backup.service" "$ROOT/deploy/systemd/tarsd-backup.timer" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now tarsd-backup.timer >/dev/null

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
