#!/usr/bin/env bash
# Removes swarm nodes that are Down while a Ready node has the same hostname: what a VM that was
# destroyed and created again leaves behind (it joins as a new node). Left in place, the old entry
# keeps global services at 2/3 and the node count that gates the deploy is never met. Run on the
# manager by provision-master.sh and after-slave.sh. Idempotent. Usage: prune-nodes.sh
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; fi # usage: the comment above

ready="$(docker node ls --format '{{.Hostname}} {{.Status}}' | awk '$2 == "Ready" { print $1 }')"
docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | while read -r id hostname status; do
  if [[ "$status" == Down ]] && grep -qx "$hostname" <<<"$ready"; then
    echo "removing stale swarm node $id ($hostname, Down; a newer $hostname is Ready)"
    docker node rm --force "$id" >/dev/null
  fi
done
