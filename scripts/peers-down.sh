#!/usr/bin/env bash
# Stop exactly what scripts/peers-up.sh ROOT started: each Dovecot by its own config (doveadm -c),
# the other peers by their recorded PIDs (only if the process still is ours: its command line names
# ROOT). Idempotent: running it again, or on a ROOT where nothing runs, does nothing.
#
#   scripts/peers-down.sh ROOT
set -uo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 ROOT" >&2
  exit 2
fi
[ -d "$1" ] || exit 0
ROOT=$(cd "$1" && pwd)

alive() { # PID: running and not a zombie (PID 1 here does not reap orphans promptly)
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ]
}
ours() { # PID: alive and its command line mentions ROOT (guards against a reused PID)
  alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$ROOT"
}
wait_gone() { # PID SECONDS
  for _ in $(seq 1 $(($2 * 20))); do
    alive "$1" || return 0
    sleep 0.05
  done
  return 1
}
stop_pid() { # NAME PID
  kill -TERM "$2" 2>/dev/null || true
  if ! wait_gone "$2" 5; then
    echo "peers-down: $1 (pid $2) ignored SIGTERM; sending SIGKILL" >&2
    kill -KILL "$2" 2>/dev/null || true
    wait_gone "$2" 2 || echo "peers-down: $1 (pid $2) still alive" >&2
  fi
}

stopped=()
# The two Dovecots stop in parallel: doveadm stop takes ~2.8 s each.
for inst in dovecot-a dovecot-b; do
  conf=$ROOT/$inst/dovecot.conf
  pidf=$ROOT/$inst/run/master.pid
  [ -f "$pidf" ] || continue
  pid=$(cat "$pidf" 2>/dev/null)
  if [ -n "$pid" ] && ours "$pid"; then
    (
      timeout 10 doveadm -c "$conf" stop >/dev/null 2>&1 || true
      wait_gone "$pid" 5 || stop_pid "$inst" "$pid"
      rm -f "$pidf"
    ) &
    stopped+=("$inst")
  else
    rm -f "$pidf"
  fi
done

for pidf in "$ROOT"/pids/*.pid; do
  [ -f "$pidf" ] || continue
  name=$(basename "$pidf" .pid)
  pid=$(cat "$pidf" 2>/dev/null)
  if [ -n "$pid" ] && ours "$pid"; then
    stop_pid "$name" "$pid"
    stopped+=("$name")
  fi
  rm -f "$pidf"
done

wait
if [ ${#stopped[@]} -gt 0 ]; then
  echo "peers-down: stopped ${stopped[*]} ($ROOT)"
fi
exit 0
