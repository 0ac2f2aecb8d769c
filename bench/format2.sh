#!/usr/bin/env bash
# Reproduces the measurements of repository format 2 against its issue's
# "Done when" targets. Run from the project root, as root (the shared bench's
# Dovecot needs it). Each step prints its numbers; nothing here fails on a
# number, only on a broken run.
#
#   bench/format2.sh peers       mail bench vs mbsync -P4 (../shared/bench/run-peers.sh, 20×4×250):
#                                wall, peak RSS, repository size vs corpus, no-change run
#   bench/format2.sh mailputs    PUTs per 1,000 messages: mail source → shared-bench Dovecot (5×4×250)
#                                → versitygw (scripts/peers-up.sh), counted per key prefix
#   bench/format2.sh index       one 50,000-message folder: tree bytes written vs the final state's
#   bench/format2.sh nochange    a no-change run over 1,000 users: bytes and PUTs written
#   bench/format2.sh history     1,000 snapshots of 1,000 users (synthetic, through the engine), then
#                                snapshots / ls / export --at oldest (one user) / verify --sample 0.01
#                                under /usr/bin/time -v (peak RSS, user+sys CPU), cold and warm cache
#   bench/format2.sh compress DIR  stored/raw ratio of the corpus's messages under DIR (a bench ROOT/mail;
#                                `peers` deletes its corpus, so keep one with KEEP_CORPUS=1) by zstd level
#   bench/format2.sh indexscale N  the local index cache at N blobs (Ingest, then 10^6 random hits and
#                                misses in a child process: rate and peak RSS)
#
# Scratch goes to $MEASURE_ROOT (default /tmp/y360-format2); ports are the shared bench's defaults plus
# PORT_OFFSET (default 700) so that a run beside other engineers' does not collide.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MEASURE_ROOT=${MEASURE_ROOT:-/tmp/y360-format2}
OFF=${PORT_OFFSET:-700}
SHARED=${SHARED_BENCH:-$REPO/../shared/bench}
BIN=$MEASURE_ROOT/y360backup
mkdir -p "$MEASURE_ROOT"

build() {
  go build -o "$BIN" ./cmd/y360backup
}

# timev LABEL CMD...: runs CMD under /usr/bin/time -v, prints wall, peak RSS and user+sys CPU.
timev() {
  local label=$1
  shift
  local tf=$MEASURE_ROOT/time.$$
  /usr/bin/time -v -o "$tf" "$@" >"$MEASURE_ROOT/last.out" 2>"$MEASURE_ROOT/last.err" || {
    echo "FAILED: $label (see $MEASURE_ROOT/last.err)"
    tail -5 "$MEASURE_ROOT/last.err"
    return 1
  }
  awk -v l="$label" -F': ' '
    /Maximum resident set size/ {rss=$2}
    /User time/ {u=$2} /System time/ {s=$2}
    /Elapsed \(wall clock\)/ {w=$2}
    END {printf "%-44s wall %s  user+sys %.2f s  peak RSS %.1f MiB\n", l, w, u+s, rss/1024}' "$tf"
  rm -f "$tf"
}

peers() {
  build
  local root=$MEASURE_ROOT/peers
  rm -rf "$root"
  mkdir -p "$root"
  IMAP_PORT=$((1143 + OFF)) IMAPS_PORT=$((1993 + OFF)) INTROSPECT_PORT=$((8089 + OFF)) \
    Y360_BENCH_EMU_PORT=$((18089 + OFF)) TOOLS=${TOOLS:-mbsync} MBSYNC_JOBS=${MBSYNC_JOBS:-4} \
    ROOT=$root KEEP_ROOT=1 \
    EXTRA_TOOLS="y360=Y360BACKUP_BIN=$BIN $REPO/bench/y360backup-extra-tool.sh" \
    "$SHARED/run-peers.sh" --users "${USERS:-20}" --folders 4 --msgs-per-folder 250 --seed 1 --out "$root/out"
  echo
  echo "# y360 backup alone (mode, step, wall_s, bytes added to the repository, peak RSS KiB):"
  cat "$root/y360/times.tsv"
  python3 - "$root" <<'PY'
import json, os, sys
root = sys.argv[1]
c = json.load(open(os.path.join(root, "corpus.json")))
corpus = c["bytes_rfc822"]
repo = 0
for d, _, fs in os.walk(os.path.join(root, "y360", "repo")):
    for f in fs:
        repo += os.path.getsize(os.path.join(d, f))
print(f"repository {repo} B / corpus {corpus} B (RFC822, as Dovecot counts) = {repo / corpus:.3f}"
      f" ({repo / c['bytes_disk']:.3f} of the {c['bytes_disk']} B of Maildir files)")
PY
  if [ -z "${KEEP_CORPUS:-}" ]; then
    rm -rf "$root/mail" "$root/bench" "$root/y360/repo/data" # the corpus and copies are GBs
  fi
}

mailputs() {
  local root=$MEASURE_ROOT/mailputs
  "$SHARED/dovecot-down.sh" "$root/bench" 2>/dev/null || true
  scripts/peers-down.sh "$root/peers" 2>/dev/null || true
  rm -rf "$root"
  mkdir -p "$root/bench"
  python3 "$SHARED/corpus.py" --users "${USERS:-5}" --folders 4 --msgs-per-folder 250 --seed 1 --root "$root/bench"
  # +1 beside the peers' emulator, which listens on 8089+OFF.
  IMAP_PORT=$((1144 + OFF)) IMAPS_PORT=$((1994 + OFF)) INTROSPECT_PORT=$((8090 + OFF)) "$SHARED/dovecot-up.sh" "$root/bench"
  trap '"$SHARED/dovecot-down.sh" "$root/bench"; scripts/peers-down.sh "$root/peers"' RETURN
  Y360_PEERS_PORT_OFFSET=$OFF scripts/peers-up.sh "$root/peers"
  (
    # shellcheck disable=SC1091
    source "$root/peers/env.sh"
    Y360_MEASURE=mailputs Y360_MEASURE_IMAP=127.0.0.1:$((1144 + OFF)) Y360_MEASURE_USERS_FILE=$root/bench/users.txt \
      go test ./backup -run '^TestMeasureMailPuts$' -count=1 -v -timeout 60m | grep -E 'MEASURE|FAIL|ok'
  )
}

gotest() { # NAME TEST
  Y360_MEASURE=$1 go test ./backup -run "^$2\$" -count=1 -v -timeout 60m | grep -E 'MEASURE|FAIL|ok'
}

history() {
  build
  local root=$MEASURE_ROOT/history
  local repo=$root/repo
  if [ ! -f "$repo/repo.json" ] || [ -n "${REGENERATE:-}" ]; then
    rm -rf "$root"
    mkdir -p "$root"
    Y360_MEASURE=history Y360_HISTORY_DIR=$repo go test ./backup -run '^TestMeasureGenerateHistory$' -count=1 -v -timeout 180m |
      grep -E 'MEASURE|history:|FAIL|ok'
  fi
  cat >"$root/config.yaml" <<CFG
organization:
  id: "7700001"
  admin_token: unused
  client_id: unused
  client_secret: unused
sources:
  mail: {addr: "127.0.0.1:1"}
  calendar: {enabled: false}
  disk: {enabled: false}
repository:
  path: $repo
cache_dir: $root/cache
log: {format: json, level: warn}
CFG
  local cfg=(-c "$root/config.yaml")
  local oldest user
  # The oldest snapshot's finish time, from its name (20261208T004136.189198025Z-<id>.json.zst),
  # as RFC 3339 with nanoseconds: --at picks the newest snapshot finished at or before it.
  oldest=$(ls "$repo/snapshots" | sort | sed -n 1p |
    sed -E 's/^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})\.([0-9]+)Z-.*/\1-\2-\3T\4:\5:\6.\7Z/')
  user=u00007@example.org
  echo "# $(ls "$repo/snapshots" | wc -l) snapshots, $(ls "$repo/index" | wc -l) index files, $(du -sh "$repo" | cut -f1); oldest at $oldest"
  # cold: each command starts without a local index cache (a new machine: it ingests every index
  # file first); warm: the cache the previous command left.
  for pass in cold warm; do
    cold() { if [ $pass = cold ]; then rm -rf "$root/cache"; fi; }
    cold
    timev "snapshots ($pass cache)" "$BIN" "${cfg[@]}" snapshots
    cold
    timev "ls ($pass cache)" "$BIN" "${cfg[@]}" ls
    rm -rf "$root/export"
    cold
    timev "export --at oldest --user ($pass cache)" "$BIN" "${cfg[@]}" export --at "$oldest" --user "$user" --out "$root/export"
    cold
    timev "verify --sample 0.01 ($pass cache)" "$BIN" "${cfg[@]}" verify --sample 0.01
  done
}

indexscale() {
  local n=${1:?usage: format2.sh indexscale N}
  Y360_INDEX_SCALE=$n Y360_INDEX_SCALE_DIR=${Y360_INDEX_SCALE_DIR:-$MEASURE_ROOT/indexscale} \
    go test ./backup/index -run '^TestLookupRSSScale$' -count=1 -v -timeout 4h
}

case ${1:-} in
peers) peers ;;
mailputs) mailputs ;;
index) gotest index TestMeasureIndexGrowth ;;
nochange) gotest nochange TestMeasureNoChange ;;
history) history ;;
indexscale) indexscale "${2:-}" ;;
compress)
  Y360_MEASURE=compress Y360_MEASURE_CORPUS=${2:?usage: format2.sh compress DIR} Y360_MEASURE_FILES=${FILES:-4000} \
    go test ./backup -run '^TestMeasureCompression$' -count=1 -v -timeout 30m | grep -E 'MEASURE|FAIL|ok'
  ;;
*)
  sed -n '2,22p' "$0"
  exit 2
  ;;
esac
