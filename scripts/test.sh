#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run):
#   1. gofmt: any unformatted .go file fails the run;
#   2. go vet ./...; promtool check/test rules on deploy/prometheus (Debian's promtool, or built once);
#   3. scripts/peers-up.sh into a fresh scratch ROOT (Dovecot x2, Radicale, versitygw, token
#      emulator), stopped and removed again on any exit;
#   4. go test -race -count=1 -timeout 40m with ROOT/env.sh loaded (Y360_TEST_REQUIRE_PEERS=1, so
#      tests needing a peer fail instead of skipping). Exits with go test's status.
#
#   scripts/test.sh [--no-peers] [--no-lint] [--keep-root] [GO TEST ARGS...]
#
#   --no-peers   start no servers: tests needing one skip, unless the Y360_TEST_* variables are
#                already set (e.g. `. ROOT/env.sh` of a peers-up.sh ROOT you keep running)
#   --no-lint    skip gofmt and go vet (quick iterations)
#   --keep-root  keep the scratch ROOT (configs, logs, mail) after the run; peers are still stopped
# Anything else goes to go test; ./... is added when no package is named, e.g.
#   scripts/test.sh -run TestFetch ./sources/mail
# go test's output is also written to $Y360_TEST_LOG (default ${TMPDIR:-/tmp}/y360backup-test.log).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

PEERS=1 LINT=1 KEEP_ROOT=0
ARGS=()
for a in "$@"; do
  case $a in
    --no-peers) PEERS=0 ;;
    --no-lint) LINT=0 ;;
    --keep-root) KEEP_ROOT=1 ;;
    -h | --help)
      sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) ARGS+=("$a") ;;
  esac
done
# A package is named as a relative path, ./..., or an import path of this module.
HAVE_PKG=0
for a in ${ARGS[@]+"${ARGS[@]}"}; do
  case $a in
    . | ./* | ../* | github.com/*) HAVE_PKG=1 ;;
  esac
done
[ "$HAVE_PKG" = 1 ] || ARGS+=(./...)

# go test -race needs cgo, hence a C compiler, which a fresh Debian does not have.
if ! command -v gcc >/dev/null 2>&1; then
  echo "test.sh: apt-get install gcc libc6-dev (go test -race needs cgo)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
  export Y360_APT_UPDATED=1 # peers-up.sh need not update again
fi

elapsed() { printf '%.1f s' "$((($(date +%s%N) - $1) / 1000000))e-3"; }

if [ "$LINT" = 1 ]; then
  t=$(date +%s%N)
  # git ls-files would miss new files that are not added yet; vendor/ and testdata/ are not ours to format.
  unformatted=$(find . -name '*.go' -not -path './vendor/*' -not -path '*/testdata/*' -not -path './.git/*' -print0 |
    xargs -0 -r gofmt -l)
  if [ -n "$unformatted" ]; then
    echo "test.sh: these files are not gofmt-ed (run gofmt -w on them):" >&2
    while IFS= read -r f; do echo "  $f"; done <<<"$unformatted" >&2
    exit 1
  fi
  echo "test.sh: gofmt ok ($(elapsed "$t"))"
  t=$(date +%s%N)
  go vet ./...
  echo "test.sh: go vet ok ($(elapsed "$t"))"
fi

# Prometheus rules (deploy/prometheus): promtool check + unit tests. promtool comes from Debian's
# prometheus package (~20 s; its service is never started: policy-rc.d), else from the Go module
# proxy, built once into a cache directory (10+ minutes of CPU; PROMTOOL=path skips both).
PROMTOOL_VERSION=v0.316.0
if [ "$LINT" = 1 ]; then
  t=$(date +%s%N)
  PROMTOOL=${PROMTOOL:-$(command -v promtool || true)}
  if [ -z "$PROMTOOL" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: apt-get install prometheus (for promtool)"
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
      { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
        apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends prometheus >/dev/null; } || true
    PROMTOOL=$(command -v promtool || true)
  fi
  if [ -z "$PROMTOOL" ]; then
    tools="${XDG_CACHE_HOME:-$HOME/.cache}/y360backup-tools/promtool-$PROMTOOL_VERSION"
    PROMTOOL=$tools/promtool
    if [ ! -x "$PROMTOOL" ]; then
      echo "test.sh: go install github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION (once)"
      GOBIN=$tools go install "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" || {
        echo "test.sh: could not build promtool; the alert rules are not tested" >&2
        exit 1
      }
    fi
  fi
  if ! "$PROMTOOL" check rules deploy/prometheus/y360backup.rules.yml ||
    ! (cd deploy/prometheus && "$PROMTOOL" test rules y360backup.rules.test.yml); then
    echo "test.sh: deploy/prometheus/y360backup.rules.yml fails promtool (output above)" >&2
    exit 1
  fi
  echo "test.sh: promtool rules ok ($(elapsed "$t"))"
fi

ROOT='' JOB_PGID='' STATUS_FILE=''
# shellcheck disable=SC2317 # called by trap
cleanup() {
  local rc=$?
  # Interrupted while go test runs: end its process group (go test, compilers, test binaries).
  if [ -n "$JOB_PGID" ] && kill -0 -- "-$JOB_PGID" 2>/dev/null; then
    kill -TERM -- "-$JOB_PGID" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$JOB_PGID" 2>/dev/null || true
  fi
  [ -z "$STATUS_FILE" ] || rm -f "$STATUS_FILE"
  if [ -n "$ROOT" ]; then
    # quiet: go test's summary lines should stay the last lines of the output
    "$REPO/scripts/peers-down.sh" "$ROOT" >/dev/null || true
    if [ "$KEEP_ROOT" = 1 ]; then
      echo "test.sh: kept $ROOT" >&2
    else
      rm -rf "$ROOT"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$PEERS" = 1 ]; then
  t=$(date +%s%N)
  ROOT=$(mktemp -d "${TMPDIR:-/tmp}/y360backup-peers.XXXXXX")
  "$REPO/scripts/peers-up.sh" "$ROOT"
  # shellcheck source=/dev/null
  . "$ROOT/env.sh"
  echo "test.sh: peers up ($(elapsed "$t"))"
else
  unset Y360_TEST_REQUIRE_PEERS
  echo "test.sh: --no-peers: no servers started"
fi

LOG=${Y360_TEST_LOG:-${TMPDIR:-/tmp}/y360backup-test.log}
echo "test.sh: go test -race -count=1 -timeout 40m ${ARGS[*]}  (log: $LOG)"
# go test runs as a background job in its own process group (set -m), so that a SIGTERM/SIGINT
# to this script interrupts `wait`, and cleanup can end the whole group before stopping the peers.
STATUS_FILE=$(mktemp)
set -m
{
  go test -race -count=1 -timeout 40m "${ARGS[@]}" 2>&1
  echo $? >"$STATUS_FILE"
} | tee "$LOG" &
job=$!
set +m
JOB_PGID=$(cut -d' ' -f5 "/proc/$job/stat" 2>/dev/null || true)
wait "$job" || true
JOB_PGID=
status=$(cat "$STATUS_FILE")
exit "${status:-1}"
