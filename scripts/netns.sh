#!/usr/bin/env bash
# Private test network: N hosts in their own network namespaces, each joined by a veth pair to a
# bridge inside a hub namespace. Nothing is added to the caller's namespace, so traffic stays
# between the test hosts. Link rates come from tc tbf, random loss from iptables' statistic match
# (this kernel has no netem).
#
#   netns.sh [--prefix P] check
#   netns.sh [--prefix P] up N [--rate R] [--down-rate R] [--loss P] [--burst B] [--latency T]
#   netns.sh [--prefix P] set I [--rate R|none] [--down-rate R|none] [--loss P]
#   netns.sh [--prefix P] exec I CMD [ARGS...]
#   netns.sh [--prefix P] addr I
#   netns.sh [--prefix P] status
#   netns.sh [--prefix P] down
#
# Hosts are namespaces P-h0..P-h(N-1) with eth0 = 10.77.0.(I+1)/24 and lo up; the hub is P-hub
# (bridge br0, ports h0..h(N-1)). P defaults to $US_NETNS_PREFIX or "us"; use distinct prefixes
# for setups that run at the same time. --rate caps each host's upload (tbf on its eth0),
# --down-rate its download (tbf on the hub's port towards it), --loss drops that fraction of the
# IP packets (whole datagrams, after reassembly) arriving at each host, so every one-way path
# loses that fraction and senders see no error. Rates take tc units: 40mbit, 1gbit, 500kbit.
#
# `up` removes what it made if it fails half-way; `down` kills processes left in the namespaces
# and deletes them, and is safe to run any number of times. `check` exits 0 when all of this
# works here, else prints why and exits 1. Needs root, iproute2 (ip, tc) and iptables
# (Debian: apt-get install -y iptables).
set -euo pipefail

PREFIX="${US_NETNS_PREFIX:-us}"
SUBNET="10.77.0"
MAX_HOSTS=200

die() {
  echo "netns.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

hub() { echo "${PREFIX}-hub"; }
host() { echo "${PREFIX}-h$1"; }

# Namespaces of this prefix.
our_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}-(h[0-9]+|hub)$" | sort -r || true
}

host_count() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -cE "^${PREFIX}-h[0-9]+$" || true
}

need_host() {
  [[ "$1" =~ ^[0-9]+$ ]] || die "host index is '$1', expected a number"
  ip netns list | awk '{print $1}' | grep -qx "$(host "$1")" || die "no host $1 (namespace $(host "$1")); run up first"
}

# tc rate text -> bits per second.
rate_bits() {
  local r="${1,,}" n unit
  [[ "$r" =~ ^([0-9]+)(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)?$ ]] || die "rate is '$1', expected e.g. 40mbit"
  n="${BASH_REMATCH[1]}"
  unit="${BASH_REMATCH[2]:-bit}"
  case "$unit" in
  bit) echo "$n" ;;
  kbit) echo $((n * 1000)) ;;
  mbit) echo $((n * 1000000)) ;;
  gbit) echo $((n * 1000000000)) ;;
  bps) echo $((n * 8)) ;;
  kbps) echo $((n * 8000)) ;;
  mbps) echo $((n * 8000000)) ;;
  gbps) echo $((n * 8000000000)) ;;
  esac
}

check_probability() {
  [[ "$1" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]] || die "loss is '$1', expected a probability such as 0.05"
}

# set_rate NS DEV RATE|none: tbf with a burst of 10 ms of traffic (at least 32 KiB) unless --burst.
set_rate() {
  local ns="$1" dev="$2" rate="$3" bits burst
  ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
  [[ "$rate" == "none" || -z "$rate" ]] && return 0
  bits="$(rate_bits "$rate")"
  burst="${BURST:-$((bits / 8 / 100 > 32768 ? bits / 8 / 100 : 32768))}"
  ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency "${LATENCY:-50ms}"
}

# set_loss NS P: replaces the host's loss rule (chain US_LOSS, hooked into INPUT on eth0). Loss is
# applied where packets arrive: a DROP in OUTPUT would make the sender's sendmsg fail with EPERM,
# which real loss never does.
set_loss() {
  local ns="$1" p="$2"
  check_probability "$p"
  ip netns exec "$ns" iptables -w -F US_LOSS
  if [[ ! "$p" =~ ^0(\.0*)?$ ]]; then
    ip netns exec "$ns" iptables -w -A US_LOSS -m statistic --mode random --probability "$p" -j DROP
  fi
}

cmd_check() {
  local why=() ns
  [[ "$(id -u)" == 0 ]] || why+=("not root (uid $(id -u))")
  command -v ip >/dev/null || why+=("'ip' (iproute2) not found")
  command -v tc >/dev/null || why+=("'tc' (iproute2) not found")
  command -v iptables >/dev/null || why+=("'iptables' not found (Debian: apt-get install -y iptables)")
  if ((${#why[@]} == 0)); then
    ns="${PREFIX}-probe$$"
    trap 'ip netns del "'"$ns"'" 2>/dev/null || true' EXIT
    if ! ip netns add "$ns" 2>/dev/null; then
      why+=("'ip netns add' failed (no CAP_SYS_ADMIN or no network namespace support)")
    else
      ip -n "$ns" link add pa type veth peer name pb 2>/dev/null || why+=("cannot create veth pairs")
      ip -n "$ns" link add br0 type bridge 2>/dev/null || why+=("cannot create bridges")
      if ((${#why[@]} == 0)); then
        ip netns exec "$ns" tc qdisc add dev pa root tbf rate 40mbit burst 32768 latency 50ms \
          2>/dev/null || why+=("tc tbf is not available")
        ip netns exec "$ns" iptables -w -A OUTPUT -m statistic --mode random --probability 0.5 \
          -j DROP 2>/dev/null || why+=("iptables statistic match is not available")
      fi
      ip netns del "$ns" 2>/dev/null || true
    fi
    trap - EXIT
  fi
  if ((${#why[@]} > 0)); then
    echo "netns.sh: network namespaces unavailable: $(IFS=';'; echo "${why[*]}" | sed 's/;/; /g')" >&2
    exit 1
  fi
  echo "netns.sh: ok: ip netns, veth, bridge, tc tbf and iptables statistic work here"
}

cmd_up() {
  local n="${1:-}" rate="" down_rate="" loss="0" i ns
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_HOSTS)) || die "host count is '$n', expected 1..$MAX_HOSTS"
  shift
  while (($# > 0)); do
    case "$1" in
    --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
    --down-rate) down_rate="${2:?--down-rate needs a value}"; shift 2 ;;
    --loss) loss="${2:?--loss needs a value}"; shift 2 ;;
    --burst) BURST="${2:?--burst needs a value}"; shift 2 ;;
    --latency) LATENCY="${2:?--latency needs a value}"; shift 2 ;;
    *) die "unknown option for up: $1" ;;
    esac
  done
  check_probability "$loss"
  [[ -z "$rate" ]] || rate_bits "$rate" >/dev/null
  [[ -z "$down_rate" ]] || rate_bits "$down_rate" >/dev/null
  [[ -z "$(our_namespaces)" ]] || die "namespaces with prefix '$PREFIX' exist already; run down first"

  trap 'if (($? != 0)); then echo "netns.sh: up failed; removing what it made" >&2; cmd_down >/dev/null 2>&1 || true; fi' EXIT
  ip netns add "$(hub)"
  ip -n "$(hub)" link set lo up
  ip -n "$(hub)" link add br0 type bridge
  ip -n "$(hub)" link set br0 up
  for ((i = 0; i < n; i++)); do
    ns="$(host "$i")"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add eth0 netns "$ns" type veth peer name "h$i" netns "$(hub)"
    ip -n "$(hub)" link set "h$i" master br0
    ip -n "$(hub)" link set "h$i" up
    ip -n "$ns" addr add "${SUBNET}.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip netns exec "$ns" iptables -w -N US_LOSS
    ip netns exec "$ns" iptables -w -A INPUT -i eth0 -j US_LOSS
    set_loss "$ns" "$loss"
    set_rate "$ns" eth0 "$rate"
    set_rate "$(hub)" "h$i" "$down_rate"
  done
  trap - EXIT
  echo "netns.sh: up: $n hosts ${PREFIX}-h0..${PREFIX}-h$((n - 1)) at ${SUBNET}.1..${SUBNET}.$n" \
    "(upload ${rate:-unlimited}, download ${down_rate:-unlimited}, loss $loss)"
}

cmd_set() {
  local i="${1:-}" ns
  need_host "$i"
  ns="$(host "$i")"
  shift
  while (($# > 0)); do
    case "$1" in
    --rate) set_rate "$ns" eth0 "${2:?--rate needs a value}"; shift 2 ;;
    --down-rate) set_rate "$(hub)" "h$i" "${2:?--down-rate needs a value}"; shift 2 ;;
    --loss) set_loss "$ns" "${2:?--loss needs a value}"; shift 2 ;;
    --burst) BURST="${2:?--burst needs a value}"; shift 2 ;;
    --latency) LATENCY="${2:?--latency needs a value}"; shift 2 ;;
    *) die "unknown option for set: $1" ;;
    esac
  done
}

cmd_exec() {
  local i="${1:-}"
  need_host "$i"
  shift
  (($# > 0)) || die "exec needs a command"
  exec ip netns exec "$(host "$i")" "$@"
}

cmd_addr() {
  local i="${1:-}"
  [[ "$i" =~ ^[0-9]+$ ]] && ((i < MAX_HOSTS)) || die "host index is '$i', expected 0..$((MAX_HOSTS - 1))"
  echo "${SUBNET}.$((i + 1))"
}

cmd_status() {
  local ns n
  n="$(host_count)"
  if [[ -z "$(our_namespaces)" ]]; then
    echo "netns.sh: no namespaces with prefix '$PREFIX'"
    return 0
  fi
  echo "netns.sh: prefix '$PREFIX', $n hosts"
  while read -r ns; do
    [[ "$ns" == "$(hub)" ]] && continue
    echo "== $ns"
    ip -n "$ns" -4 -br addr show dev eth0 || true
    ip netns exec "$ns" tc qdisc show dev eth0 | grep tbf || echo "   no rate limit"
    ip netns exec "$ns" iptables -w -L US_LOSS -n -v 2>/dev/null | tail -n +3 || true
  done < <(our_namespaces)
}

cmd_down() {
  local ns pids
  while read -r ns; do
    [[ -n "$ns" ]] || continue
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    if [[ -n "$pids" ]]; then
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        [[ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ]] && break
        sleep 0.1
      done
      pids="$(ip netns pids "$ns" 2>/dev/null || true)"
      # shellcheck disable=SC2086
      [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
  done < <(our_namespaces)
  [[ -z "$(our_namespaces)" ]] || die "could not remove: $(our_namespaces | tr '\n' ' ')"
  echo "netns.sh: down: no namespaces with prefix '$PREFIX' left"
}

while (($# > 0)); do
  case "$1" in
  --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
  -h | --help) usage ;;
  *) break ;;
  esac
done
[[ "$PREFIX" =~ ^[a-z0-9][a-z0-9-]{0,23}$ ]] || die "prefix is '$PREFIX', expected 1..24 of [a-z0-9-]"

sub="${1:-}"
shift || true
case "$sub" in
check) cmd_check ;;
up) cmd_up "$@" ;;
set) cmd_set "$@" ;;
exec) cmd_exec "$@" ;;
addr) cmd_addr "$@" ;;
status) cmd_status ;;
down) cmd_down ;;
*) usage ;;
esac
