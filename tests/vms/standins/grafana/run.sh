#!/bin/sh
# Grafana's image starts /run.sh; the stack's entrypoint execs it after exporting the tokens.
exec bun /usr/share/grafana-standin/server.ts
