#!/usr/bin/env bash
# Install (if missing) and start every real server the integration tests need, under ROOT.
#
#   scripts/peers-up.sh ROOT        ROOT: a scratch folder (created if missing); stop with peers-down.sh ROOT
#
# Peers (all on 127.0.0.1; add Y360_PEERS_PORT_OFFSET=N to every port to run a second set beside this one):
#   emulator    8089        token introspection (POST /introspect): `y360backup emulator`, built from
#                           ./cmd/y360backup; scripts/peers/introspect.py while that is not buildable
#   dovecot-a   1143, 1993  Dovecot with its own capabilities (CONDSTORE, QRESYNC...), separator "/"
#   dovecot-b   2143, 2993  Dovecot advertising exactly Yandex's capability list, separator "|"
#   radicale    5232        Radicale 3.1 (CalDAV); the OAuth token is the Basic password
#   versitygw   7070        S3 gateway (posix backend in ROOT/s3data)
# Both Dovecots take XOAUTH2/OAUTHBEARER/PLAIN/LOGIN through an oauth2 passdb that asks the emulator;
# any user name is accepted (static userdb), mail is stored as the 'mail' user under ROOT/mail-{a,b}.
#
# Writes ROOT/env.sh (source it: the Y360_TEST_* variables the Go tests read, with
# Y360_TEST_REQUIRE_PEERS=1), ROOT/pids/*.pid, ROOT/logs/*.log, prints one status line per peer.
# Exits non-zero, with the log tail of the peer that failed, if any peer did not start (and then
# stops the others it started).
#
# Environment:
#   Y360_TEST_EMU_KEY        HMAC key for the emulator (default: a fresh random key, written to env.sh)
#   Y360_PEERS_CACHE         where versitygw is installed once (default ~/.cache/y360backup)
#   Y360_PEERS_PORT_OFFSET   added to every port (default 0)
#   Y360_PEERS_NO_INSTALL=1  never run apt-get / go install (fail if something is missing)
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 ROOT" >&2
  exit 2
fi
mkdir -p "$1"
ROOT=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$REPO/scripts

CACHE=${Y360_PEERS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/y360backup}
OFF=${Y360_PEERS_PORT_OFFSET:-0}
EMU_PORT=$((8089 + OFF))
A_IMAP=$((1143 + OFF)) A_IMAPS=$((1993 + OFF))
B_IMAP=$((2143 + OFF)) B_IMAPS=$((2993 + OFF))
DAV_PORT=$((5232 + OFF))
S3_PORT=$((7070 + OFF))
VGW_VERSION=v1.8.0
VGW=$CACHE/bin/versitygw
S3_ACCESS=testaccess
S3_SECRET=testsecret123
# Yandex's post-login capability list (docs: yandex-api.md §4); Dovecot appends STARTTLS/AUTH=* before login.
YANDEX_CAPS="IMAP4rev1 CHILDREN UNSELECT LITERAL+ NAMESPACE XLIST UIDPLUS ENABLE ID IDLE MOVE"
PY=/usr/bin/python3 # Debian's python: Radicale is installed for it (a pyenv python3 may be first in PATH)

T0=$(date +%s%N)
STEP_T=$T0
step_done() { # NAME: print how long the step since the previous step_done took
  local now
  now=$(date +%s%N)
  printf 'peers-up: %-22s %6.2f s\n' "$1" "$(((now - STEP_T) / 1000000))e-3"
  STEP_T=$now
}
die() {
  echo "peers-up: ERROR: $*" >&2
  exit 1
}

# ---- 1. packages -------------------------------------------------------------------------------
install_packages() {
  local want=(dovecot-imapd radicale openssl time python3 ca-certificates systemd zstd) missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "${Y360_PEERS_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]} (Y360_PEERS_NO_INSTALL=1)"
  echo "peers-up: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ "${Y360_APT_UPDATED:-0}" != 1 ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq >"$ROOT/logs/apt.log" 2>&1 ||
      { tail -20 "$ROOT/logs/apt.log" >&2; die "apt-get update failed"; }
  fi
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >>"$ROOT/logs/apt.log" 2>&1 ||
    { tail -20 "$ROOT/logs/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
}

# versitygw is go-installed once into $CACHE/bin (about 70 s cold) and reused afterwards.
install_versitygw() {
  if [ -x "$VGW" ] && [ "$(cat "$VGW.version" 2>/dev/null)" = "$VGW_VERSION" ]; then return 0; fi
  [ "${Y360_PEERS_NO_INSTALL:-0}" = 1 ] && die "versitygw missing at $VGW (Y360_PEERS_NO_INSTALL=1)"
  echo "peers-up: go install versitygw@$VGW_VERSION into $CACHE/bin"
  mkdir -p "$CACHE/bin"
  # outside the repo, so our go.mod plays no part
  (cd / && GOBIN=$CACHE/bin go install "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION") \
    >"$ROOT/logs/versitygw-install.log" 2>&1 ||
    { tail -20 "$ROOT/logs/versitygw-install.log" >&2; die "go install versitygw failed"; }
  echo "$VGW_VERSION" >"$VGW.version"
}

# The Go emulator if ./cmd/y360backup builds and has the 'emulator' command, else the python fallback.
EMU_KIND=
build_emulator() {
  EMU_KIND=python
  if [ -d "$REPO/cmd/y360backup" ]; then
    if (cd "$REPO" && go build -o "$ROOT/bin/y360backup" ./cmd/y360backup) >"$ROOT/logs/emulator-build.log" 2>&1; then
      local help
      help=$("$ROOT/bin/y360backup" emulator --help 2>&1 || true)
      if [[ $help == *-addr* ]]; then
        EMU_KIND=go
      else
        echo "peers-up: ./cmd/y360backup builds but has no 'emulator' command: using the python fallback"
      fi
    else
      echo "peers-up: go build ./cmd/y360backup failed (see $ROOT/logs/emulator-build.log): using the python fallback"
    fi
  else
    echo "peers-up: ./cmd/y360backup does not exist yet: using the python fallback"
  fi
}

# ---- helpers -------------------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { # PID: running and not a zombie (PID 1 here does not reap orphans promptly)
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ]
}
fail_peer() { # NAME LOG MESSAGE
  echo "peers-up: ERROR: $1: $3; last lines of $2:" >&2
  tail -25 "$2" 2>/dev/null | sed 's/^/    /' >&2 || true
  exit 1
}
wait_port() { # NAME PORT PID LOG: until the port answers (30 s), failing at once if PID died
  for _ in $(seq 1 600); do
    port_open "$2" && return 0
    alive "$3" || fail_peer "$1" "$4" "process $3 exited before port $2 answered"
    sleep 0.05
  done
  fail_peer "$1" "$4" "port $2 did not answer within 30 s"
}
imap_greeting() { # PORT: the server's first line, or nothing
  local line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 5 line <&3 && printf '%s\n' "${line%$'\r'}" && exec 3<&-; } 2>/dev/null || true
}
start_bg() { # NAME LOG CMD...: start CMD in the background, stdio detached, pid in ROOT/pids/NAME.pid
  local name=$1 log=$2
  shift 2
  "$@" </dev/null >"$log" 2>&1 &
  echo $! >"$ROOT/pids/$name.pid"
}

# ---- configs -------------------------------------------------------------------------------------
write_dovecot() { # NAME IMAP_PORT IMAPS_PORT SEPARATOR AUTH_MECHS CAPABILITY_LINE EXTRA_MAILBOXES
  local name=$1 d=$ROOT/$1 mail=$ROOT/mail-${1#dovecot-}
  mkdir -p "$d/run" "$d/state" "$mail"
  chown mail:mail "$mail"
  runuser -u mail -- test -w "$mail" ||
    die "user 'mail' cannot reach $mail: every folder above ROOT must be searchable by others (o+x)"
  cat >"$d/oauth2.conf" <<EOC
introspection_mode = post
introspection_url = http://127.0.0.1:$EMU_PORT/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
EOC
  cat >"$d/dovecot.conf" <<EOC
# Written by scripts/peers-up.sh: a private Dovecot for the integration tests.
instance_name = y360-$name-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)
base_dir = $d/run
state_dir = $d/state
protocols = imap
listen = 127.0.0.1
log_path = $ROOT/logs/$name.log
auth_verbose = yes
ssl = yes
ssl_cert = <$ROOT/tls/cert.pem
ssl_key = <$ROOT/tls/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = $5
# Every mechanism goes through the oauth2 passdb: the password / bearer token is checked by the emulator.
passdb {
  driver = oauth2
  mechanisms = $5
  args = $d/oauth2.conf
}
# Any user exists (allow_all_users also makes doveadm -u work).
userdb {
  driver = static
  args = uid=mail gid=mail home=$mail/%u allow_all_users=yes
}
first_valid_uid = 8
mail_location = maildir:~/Maildir
$6
namespace inbox {
  inbox = yes
  separator = $4
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
$7
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $2
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $3
    ssl = yes
  }
}
protocol imap {
  mail_max_userip_connections = 200
}
# Test-friendly failure handling: no failure delay and no anvil auth penalty, which otherwise grows
# to 15 s per attempt after a few wrong tokens (the penalty listener needs a restart, not a reload).
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOC
}

write_radicale() {
  local d=$ROOT/radicale
  mkdir -p "$d/collections"
  cp "$HERE/peers/radicale_introspect_auth.py" "$d/"
  cat >"$d/config" <<EOC
[server]
hosts = 127.0.0.1:$DAV_PORT
[auth]
type = radicale_introspect_auth
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = $d/collections
[logging]
level = info
mask_passwords = True
EOC
}

# ---- main ----------------------------------------------------------------------------------------
# A previous run on the same ROOT is stopped first, so running this twice restarts cleanly.
if [ -d "$ROOT/pids" ] || [ -d "$ROOT/dovecot-a/run" ]; then
  "$HERE/peers-down.sh" "$ROOT" >/dev/null 2>&1 || true
  step_done "stop previous run"
fi
mkdir -p "$ROOT/logs" "$ROOT/pids" "$ROOT/bin" "$ROOT/tls" "$ROOT/s3data"
# Dovecot's mail processes run as 'mail' and must traverse ROOT (mktemp -d makes it 0700).
chmod o+x "$ROOT"

install_packages
step_done "packages"
install_versitygw
step_done "versitygw"
build_emulator
step_done "emulator build"

for p in $EMU_PORT $A_IMAP $A_IMAPS $B_IMAP $B_IMAPS $DAV_PORT $S3_PORT; do
  if port_open "$p"; then
    echo "peers-up: ERROR: port 127.0.0.1:$p is already in use:" >&2
    ss -ltnp "sport = :$p" 2>/dev/null | sed 's/^/    /' >&2 || true
    echo "    (stop the other instance, e.g. scripts/peers-down.sh ITS_ROOT, or set Y360_PEERS_PORT_OFFSET)" >&2
    exit 1
  fi
done

if [ -z "${Y360_TEST_EMU_KEY:-}" ]; then
  Y360_TEST_EMU_KEY=$(openssl rand -hex 32)
fi
export Y360_TEST_EMU_KEY

[ -f "$ROOT/tls/cert.pem" ] ||
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ROOT/tls/key.pem" -out "$ROOT/tls/cert.pem" \
    -days 3650 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$ROOT/logs/openssl.log" 2>&1 ||
  { cat "$ROOT/logs/openssl.log" >&2; die "openssl could not make the test certificate"; }
write_dovecot dovecot-a "$A_IMAP" "$A_IMAPS" / "plain login xoauth2 oauthbearer" \
  "# imap_capability: Dovecot's own" ""
# Yandex: separator '|', Spam folder, and no AUTH=LOGIN/OAUTHBEARER in the pre-login list.
write_dovecot dovecot-b "$B_IMAP" "$B_IMAPS" "|" "plain xoauth2" \
  "imap_capability = $YANDEX_CAPS" "  mailbox Spam {
    special_use = \\Junk
    auto = subscribe
  }"
write_radicale
step_done "configs"

# Kill everything started so far if a later peer fails to start.
trap '[ $? -eq 0 ] || "$HERE/peers-down.sh" "$ROOT" >/dev/null 2>&1 || true' EXIT

if [ "$EMU_KIND" = go ]; then
  start_bg emulator "$ROOT/logs/emulator.log" "$ROOT/bin/y360backup" emulator --addr "127.0.0.1:$EMU_PORT"
else
  cp "$HERE/peers/introspect.py" "$ROOT/bin/introspect.py"
  start_bg emulator "$ROOT/logs/emulator.log" "$PY" "$ROOT/bin/introspect.py" "127.0.0.1:$EMU_PORT"
fi
for inst in dovecot-a dovecot-b; do
  dovecot -c "$ROOT/$inst/dovecot.conf" </dev/null >>"$ROOT/logs/$inst.log" 2>&1 ||
    fail_peer "$inst" "$ROOT/logs/$inst.log" "dovecot did not start"
done
Y360_INTROSPECT_URL=http://127.0.0.1:$EMU_PORT/introspect PYTHONPATH=$ROOT/radicale PYTHONDONTWRITEBYTECODE=1 \
  start_bg radicale "$ROOT/logs/radicale.log" "$PY" -m radicale --config "$ROOT/radicale/config"
ROOT_ACCESS_KEY=$S3_ACCESS ROOT_SECRET_KEY=$S3_SECRET \
  start_bg versitygw "$ROOT/logs/versitygw.log" "$VGW" -q --port "127.0.0.1:$S3_PORT" posix "$ROOT/s3data"

wait_port emulator "$EMU_PORT" "$(cat "$ROOT/pids/emulator.pid")" "$ROOT/logs/emulator.log"
for inst in dovecot-a dovecot-b; do
  mpid=$(cat "$ROOT/$inst/run/master.pid" 2>/dev/null) || fail_peer "$inst" "$ROOT/logs/$inst.log" "no master.pid"
  if [ "$inst" = dovecot-a ]; then ports="$A_IMAP $A_IMAPS"; else ports="$B_IMAP $B_IMAPS"; fi
  for p in $ports; do wait_port "$inst" "$p" "$mpid" "$ROOT/logs/$inst.log"; done
done
wait_port radicale "$DAV_PORT" "$(cat "$ROOT/pids/radicale.pid")" "$ROOT/logs/radicale.log"
wait_port versitygw "$S3_PORT" "$(cat "$ROOT/pids/versitygw.pid")" "$ROOT/logs/versitygw.log"
for inst in dovecot-a:$A_IMAP dovecot-b:$B_IMAP; do
  g=$(imap_greeting "${inst#*:}")
  case $g in "* OK"*) ;; *) fail_peer "${inst%%:*}" "$ROOT/logs/${inst%%:*}.log" "no IMAP greeting on port ${inst#*:} (got '$g')" ;; esac
done
step_done "start"

cat >"$ROOT/env.sh" <<EOC
# Written by scripts/peers-up.sh $ROOT: source it before go test.
export Y360_TEST_DOVECOT_ADDR=127.0.0.1:$A_IMAP
export Y360_TEST_DOVECOT_YANDEX_ADDR=127.0.0.1:$B_IMAP
export Y360_TEST_RADICALE_URL=http://127.0.0.1:$DAV_PORT/
export Y360_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export Y360_TEST_S3_ACCESS_KEY=$S3_ACCESS
export Y360_TEST_S3_SECRET_KEY=$S3_SECRET
export Y360_TEST_EMU_KEY=$Y360_TEST_EMU_KEY
export Y360_TEST_REQUIRE_PEERS=1
# extras: implicit-TLS ports, the CA of their self-signed certificate, the introspection endpoint
export Y360_TEST_DOVECOT_TLS_ADDR=127.0.0.1:$A_IMAPS
export Y360_TEST_DOVECOT_YANDEX_TLS_ADDR=127.0.0.1:$B_IMAPS
export Y360_TEST_DOVECOT_CA=$ROOT/tls/cert.pem
export Y360_TEST_EMU_URL=http://127.0.0.1:$EMU_PORT
export Y360_TEST_PEERS_ROOT=$ROOT
EOC
chmod 600 "$ROOT/env.sh"

dv=$(dovecot --version | cut -d' ' -f1)
rv=$("$PY" -c 'import radicale; print(radicale.VERSION)' 2>/dev/null || echo '?')
printf 'peer %-10s %-24s 127.0.0.1:%-12s pid %s\n' \
  emulator "$EMU_KIND" "$EMU_PORT" "$(cat "$ROOT/pids/emulator.pid")" \
  dovecot-a "dovecot $dv" "$A_IMAP,$A_IMAPS" "$(cat "$ROOT/dovecot-a/run/master.pid")" \
  dovecot-b "dovecot $dv yandex" "$B_IMAP,$B_IMAPS" "$(cat "$ROOT/dovecot-b/run/master.pid")" \
  radicale "radicale $rv" "$DAV_PORT" "$(cat "$ROOT/pids/radicale.pid")" \
  versitygw "versitygw ${VGW_VERSION#v}" "$S3_PORT" "$(cat "$ROOT/pids/versitygw.pid")"
printf 'peers-up: all peers up in %.2f s; env: %s\n' "$((($(date +%s%N) - T0) / 1000000))e-3" "$ROOT/env.sh"
