#!/usr/bin/env bash
# A stand-in `docker` for deploy/backup and deploy/restore (tests/deploy/backup-restore.test.ts): it runs
# what the scripts would run in containers on this machine, with the containers' paths mapped to
# directories here, and keeps the swarm's state in files under $FAKE_STATE:
#   calls.log                 every call, one line each (the arguments, never the environment)
#   running/<service>         the id of the service's running container on this node (`docker ps`)
#   containers/<id>/env       that container's environment (KEY=value lines: INFLUX_HOST, INFLUXD_RPC)
#   containers/<id>/root/     its filesystem, for the paths `docker exec` and `docker cp` name
#   stack                     present while the stack is deployed (`docker service ls`, `docker stack rm`)
#   volumes/<name>, secrets/<name>
# `docker run <image> ...` runs the entrypoint here, each --volume's container path mapped to its host
# path (the runtime image's bun is the bun on PATH); `docker exec <id> influx ...` runs the swarm test's
# stand-in influx CLI ($FAKE_INFLUX) against the InfluxDB 1.8 that container stands for.
set -euo pipefail
S="$FAKE_STATE"
echo "docker $*" >>"$S/calls.log"

die() {
  echo "fake docker: $*" >&2
  exit 125
}

# "<id>:<path>" -> the container's directory here; anything else as it is.
host_path() {
  if [[ "$1" =~ ^([A-Za-z0-9_.-]+):(/.*)$ ]]; then
    [[ -d "$S/containers/${BASH_REMATCH[1]}" ]] || die "no such container: ${BASH_REMATCH[1]}"
    echo "$S/containers/${BASH_REMATCH[1]}/root${BASH_REMATCH[2]}"
  else
    echo "$1"
  fi
}

filter_value() { # the value of `--filter <key>=<value>` among the arguments
  local key="$1"
  shift
  while [[ $# -gt 0 ]]; do
    if [[ "$1" == --filter && "${2:-}" == "$key="* ]]; then
      echo "${2#"$key="}"
      return
    fi
    shift
  done
}

case "$1" in
  run)
    shift
    declare -A mounts=()
    workdir="" entrypoint="" env=()
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --rm) shift ;;
        --network | --user) shift 2 ;;
        --env) env+=("$2"); shift 2 ;;
        --workdir) workdir="$2"; shift 2 ;;
        --entrypoint) entrypoint="$2"; shift 2 ;;
        --volume)
          spec="${2%:ro}"
          mounts["${spec#*:}"]="${spec%%:*}"
          shift 2
          ;;
        -*) die "run $1: not expected" ;;
        *) break ;;
      esac
    done
    [[ "$1" == "$FAKE_RUNTIME_IMAGE" ]] || die "run: image $1 is not the runtime image $FAKE_RUNTIME_IMAGE"
    shift
    map() { # a container path -> the host path of the longest mount it is under
      local best=""
      for target in "${!mounts[@]}"; do
        if [[ "$1" == "$target" || "$1" == "$target"/* ]] && ((${#target} > ${#best})); then best="$target"; fi
      done
      if [[ -n "$best" ]]; then echo "${mounts[$best]}${1#"$best"}"; else echo "$1"; fi
    }
    args=()
    for arg in "$@"; do args+=("$(map "$arg")"); done
    cd "$(map "${workdir:-/}")"
    exec env "${env[@]}" "$entrypoint" "${args[@]}"
    ;;
  ps)
    service="$(filter_value label "$@")"
    case "$service" in
      com.docker.swarm.service.name=*)
        cat "$S/running/${service#*=}" 2>/dev/null || true
        ;;
      com.docker.stack.namespace=*)
        cat "$S"/running/* 2>/dev/null || true
        ;;
      *) die "ps: not expected: $*" ;;
    esac
    ;;
  exec)
    shift
    names=()
    while [[ "$1" == --env ]]; do
      names+=("$2")
      shift 2
    done
    id="$1"
    shift
    [[ -d "$S/containers/$id" ]] || die "no such container: $id"
    env=(PATH="$FAKE_PATH" INFLUX_CLI_LOG="$S/influx-cli.log")
    while IFS= read -r line; do env+=("$line"); done <"$S/containers/$id/env"
    for name in "${names[@]}"; do env+=("$name=${!name}"); done
    args=()
    for arg in "$@"; do
      if [[ "$arg" == /tmp/* ]]; then args+=("$S/containers/$id/root$arg"); else args+=("$arg"); fi
    done
    mkdir -p "$S/containers/$id/root/tmp"
    case "${args[0]}" in
      influx) exec env -i "${env[@]}" bash "$FAKE_INFLUX" "${args[@]:1}" ;;
      rm) exec "${args[@]}" ;;
      *) die "exec: not expected: $*" ;;
    esac
    ;;
  cp)
    src="$(host_path "$2")" dest="$(host_path "$3")"
    [[ "$src" == */. ]] || die "cp: copies a directory's contents (SRC/.) only"
    [[ -d "$src" ]] || die "cp: no such directory: $2"
    mkdir -p "$dest"
    cp -a "$src" "$dest"
    ;;
  service)
    [[ "$2" == ls ]] || die "not expected: $*"
    if [[ -e "$S/stack" ]]; then echo "svc-files"; fi
    ;;
  stack)
    [[ "$2" == rm ]] || die "not expected: $*"
    rm -f "$S/stack" "$S"/running/*
    ;;
  network)
    [[ "$2" == ls ]] || die "not expected: $*"
    ;;
  volume)
    case "$2" in
      inspect) [[ -e "$S/volumes/$3" ]] ;;
      rm) rm "$S/volumes/$3" ;;
      *) die "not expected: $*" ;;
    esac
    ;;
  secret)
    case "$2" in
      inspect) [[ -e "$S/secrets/$3" ]] ;;
      rm) rm "$S/secrets/$3" ;;
      create)
        [[ ! -e "$S/secrets/$3" ]] || die "secret $3 exists"
        cp "$4" "$S/secrets/$3"
        echo "id-$3"
        ;;
      *) die "not expected: $*" ;;
    esac
    ;;
  *) die "not expected: $*" ;;
esac
