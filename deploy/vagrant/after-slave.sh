#!/usr/bin/env bash
# Runs on the master after the slave is up (a Vagrant trigger): once both nodes are ready, deploy the
# stack (the slave has loaded the image by now, so no task fails for want of it), spread the APP 1
# replicas that swarm had to place on the master alone, then print the URLs. Idempotent: an
# unchanged stack is left as it is, and so is a service whose replicas already run on both nodes.
# Usage: after-slave.sh <master address>
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; fi # usage: the comment above

STACK="${TARSD_STACK:-tarsd}"
ADDR="${1:-192.168.50.2}"

ready_nodes=0
for _ in $(seq 60); do # the slave may need a few seconds to report Ready after joining
  ready_nodes="$(docker node ls --format '{{.Status}}' | grep -c '^Ready$' || true)"
  [[ "$ready_nodes" -ge 2 ]] && break
  sleep 1
done
bash "$(dirname "${BASH_SOURCE[0]}")/prune-nodes.sh"
bash "$(dirname "${BASH_SOURCE[0]}")/deploy-stack.sh" "$ADDR"
if [[ "$ready_nodes" -ge 2 ]]; then
  for service in "${STACK}_files" "${STACK}_remote-write-containers" "${STACK}_remote-write-vms"; do
    docker service inspect "$service" >/dev/null 2>&1 || continue
    replicas="$(docker service inspect --format '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}}' "$service")"
    [[ "${replicas:-0}" -ge 2 ]] || continue
    nodes="$(docker service ps --filter desired-state=running --format '{{.Node}}' "$service" | sort -u | wc -l)"
    if [[ "$nodes" -lt 2 ]]; then
      echo "spreading $service over both nodes (rolling, start-first)"
      docker service update --quiet --force "$service"
    fi
  done
fi
bash "$(dirname "${BASH_SOURCE[0]}")/urls.sh" "$ADDR"
