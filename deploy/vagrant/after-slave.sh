#!/usr/bin/env bash
# Runs on the master after the slave is up (a Vagrant trigger): once both nodes are ready, spread the
# APP 1 replicas that swarm had to place on the master alone, then print the URLs. Idempotent: a
# service whose replicas already run on more than one node is left alone.
set -euo pipefail

STACK="${TARSD_STACK:-tarsd}"
ADDR="${1:-192.168.50.2}"

ready_nodes="$(docker node ls --format '{{.Status}}' | grep -c '^Ready$' || true)"
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
