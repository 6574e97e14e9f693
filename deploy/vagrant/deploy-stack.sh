#!/usr/bin/env bash
# Deploys (or re-deploys: unchanged services stay as they are) the stack from the master, with the
# settings provisioning chose. Used by provision-master.sh and after-slave.sh. Usage: deploy-stack.sh <master address>
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; fi # usage: the comment above

ADDR="${1:-192.168.50.2}"
ROOT="${TARSD_ROOT:-/vagrant}"
app1_auth="$(cat /etc/tarsd/app1-auth 2>/dev/null || echo 0)"
# Under software emulation (QEMU without KVM: systemd-detect-virt says "qemu", not "kvm") every
# process start costs seconds: health checks run less often with more time, and the stack has longer
# to converge. Elsewhere each service keeps its own timing (deploy/stack.yml).
if [[ "$(systemd-detect-virt --vm 2>/dev/null || true)" == qemu ]]; then
  export TARSD_HEALTH_INTERVAL="${TARSD_HEALTH_INTERVAL:-30s}" TARSD_HEALTH_TIMEOUT="${TARSD_HEALTH_TIMEOUT:-20s}"
  export TARSD_HEALTH_START_PERIOD="${TARSD_HEALTH_START_PERIOD:-300s}" TARSD_CONVERGE_TIMEOUT="${TARSD_CONVERGE_TIMEOUT:-1800}"
fi
TARSD_APP1_AUTH="$app1_auth" TARSD_ARTIFACTS="${TARSD_ARTIFACTS:-/var/lib/tarsd/artifacts}" \
  TARSD_NFS_SERVER="$ADDR" TARSD_NFS_EXPORT=/srv/tarsd/data bash "$ROOT/deploy/stack-deploy"
