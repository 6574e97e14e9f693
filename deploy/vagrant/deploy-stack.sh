#!/usr/bin/env bash
# Deploys (or re-deploys: unchanged services stay as they are) the stack from the master, with the
# settings provisioning chose. Used by provision-master.sh and after-slave.sh. Usage: deploy-stack.sh <master address>
set -euo pipefail

ADDR="${1:-192.168.50.2}"
ROOT="${TARSD_ROOT:-/vagrant}"
app1_auth="$(cat /etc/tarsd/app1-auth 2>/dev/null || echo 0)"
TARSD_APP1_AUTH="$app1_auth" TARSD_ROOT="$ROOT" TARSD_ARTIFACTS="${TARSD_ARTIFACTS:-/var/lib/tarsd/artifacts}" \
  TARSD_NFS_SERVER="$ADDR" TARSD_NFS_EXPORT=/srv/tarsd/data bash "$ROOT/deploy/stack-deploy"
