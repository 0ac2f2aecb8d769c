#!/usr/bin/env bash
# EXTRA_TOOLS adapter for the shared IMAP bench harness (../shared/bench):
# runs y360backup against the harness's Dovecot so it is timed on the same
# corpus, in the same run, as mbsync and offlineimap.
#
#   go build -o /tmp/y360backup ./cmd/y360backup
#   EXTRA_TOOLS="y360backup=Y360BACKUP_BIN=/tmp/y360backup $PWD/bench/y360backup-extra-tool.sh" \
#     ../shared/bench/run-peers.sh --users 10 --folders 4 --msgs-per-folder 250
#
# The harness runs this twice: "full" into an empty BENCH_TARGET, then "incr"
# with nothing changed. The harness's Dovecot accepts the token
# "valid-<user>", so a y360backup emulator with --bench-tokens stands in for
# Yandex's Directory and token exchange. The harness counts messages as files
# under BENCH_TARGET, so the full run ends with `y360backup export` to Maildir;
# the backup alone is timed separately into $BENCH_ROOT/y360/times.tsv.
set -euo pipefail
BIN=${Y360BACKUP_BIN:?set Y360BACKUP_BIN to a built y360backup}
: "${BENCH_ROOT:?} ${BENCH_TARGET:?} ${BENCH_USERS_FILE:?} ${IMAP_HOST:?} ${IMAP_PORT:?}"
state=$BENCH_ROOT/y360
mkdir -p "$state"
port=${Y360_BENCH_EMU_PORT:-18089}
concurrency=${Y360_BENCH_CONCURRENCY:-4}

if ! [ -s "$state/emu.pid" ] || ! kill -0 "$(cat "$state/emu.pid")" 2>/dev/null; then
  "$BIN" emulator --addr "127.0.0.1:$port" --users-file "$BENCH_USERS_FILE" --bench-tokens >"$state/emu.log" 2>&1 &
  echo $! >"$state/emu.pid"
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
fi

# A failed step ends this script (set -e) before the incr run would stop the
# emulator: stop it then too, so that it does not outlive the harness.
trap 'kill "$(cat "$state/emu.pid")" 2>/dev/null || true' ERR

mode=incr
if [ -z "$(ls -A "$BENCH_TARGET" 2>/dev/null)" ]; then
  mode=full
  rm -rf "$state/repo"
fi
security=plain
ca=""
if [ "${BENCH_TLS:-0}" = 1 ]; then security=tls; ca="    ca_file: ${BENCH_CA:-}"; fi
cat >"$state/config.yaml" <<CFG
organization:
  id: "7700001"
  admin_token: y360emu-admin-token
  client_id: y360emu-client-id
  client_secret: y360emu-client-secret
api:
  directory_url: http://127.0.0.1:$port
  oauth_url: http://127.0.0.1:$port/token
  rps: 1000
concurrency: $concurrency
sources:
  mail:
    addr: $IMAP_HOST:$IMAP_PORT
    security: $security
$ca
  calendar: {enabled: false}
  disk: {enabled: false}
repository:
  path: $state/repo
log: {format: json, level: warn}
CFG

before=$(du -sb "$state/repo" 2>/dev/null | cut -f1 || echo 0)
t0=$(date +%s%N)
/usr/bin/time -f "%M" -o "$state/rss-$mode" "$BIN" backup -c "$state/config.yaml" >"$state/backup-$mode.txt" 2>"$state/backup-$mode.log"
t1=$(date +%s%N)
after=$(du -sb "$state/repo" | cut -f1)
printf '%s\t%s\t%.3f\t%s\t%s\n' "$mode" "backup" "$(((t1 - t0) / 1000000))e-3" "$((after - ${before:-0}))" "$(cat "$state/rss-$mode")" >>"$state/times.tsv"
if [ "$mode" = full ]; then
  t0=$(date +%s%N)
  "$BIN" export -c "$state/config.yaml" --out "$BENCH_TARGET" --mail-format maildir >"$state/export.txt"
  t1=$(date +%s%N)
  printf '%s\t%s\t%.3f\t-\t-\n' "$mode" "export" "$(((t1 - t0) / 1000000))e-3" >>"$state/times.tsv"
  # The harness expects BENCH_TARGET/<user>/...; export writes <user>/mail/<folder>/cur.
else
  kill "$(cat "$state/emu.pid")" 2>/dev/null || true
fi
