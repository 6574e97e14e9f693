#!/bin/bash
# influxd in the background, the bucket (a 1.x database) created once it answers, then wait for it;
# SIGTERM from swarm is passed on so the shutdown is clean.
set -uo pipefail
influxd -config /etc/influxdb/influxdb.conf &
pid=$!
trap 'kill -TERM "$pid"' TERM INT
for _ in $(seq 300); do
  wget -q -O /dev/null http://127.0.0.1:8086/ping && break
  sleep 0.2
done
bucket="${DOCKER_INFLUXDB_INIT_BUCKET:-}"
if [[ -n "$bucket" ]]; then
  query="CREATE DATABASE \"$bucket\""
  [[ -n "${DOCKER_INFLUXDB_INIT_RETENTION:-}" ]] && query+=" WITH DURATION ${DOCKER_INFLUXDB_INIT_RETENTION}"
  wget -q -O /dev/null --post-data "q=$query" http://127.0.0.1:8086/query || echo "entrypoint: $query failed" >&2
fi
wait "$pid"
status=$?
# a trapped signal ends the first wait early: wait for influxd itself to finish
kill -0 "$pid" 2>/dev/null && { wait "$pid"; status=$?; }
exit "$status"
