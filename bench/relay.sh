#!/usr/bin/env bash
# bench/relay.sh: the relay benchmark. A TCP proxy in front of the C
# reference server (servers/c/hello.c), the load sent through the proxy:
# simple-server -proto relay against HAProxy, scenarios (a), (c) and (d)
# of run.sh in interleaved rounds, one JSON record per run in RESULTS_DIR
# (and a one-line summary of each on stderr); at the end `report -relay`
# rewrites the relay section of REPORT (between its markers; the rest of
# the file is kept).
#
#   bench/relay.sh                                 # 3 rounds x 10 s, all
#   PROXIES=haproxy ROUNDS=1 DURATION=2s RESULTS_DIR=/tmp/r REPORT=/tmp/r.md bench/relay.sh
#
# Settings (environment variables):
#   ROUNDS      rounds per scenario (every proxy once per round)     3
#   DURATION    length of each run, whole seconds ("10" or "10s")    10s
#   SCENARIOS   any of a c d                                         all
#   PROXIES     any of simpleserver haproxy                          both
#               (simpleserver: simple-server -proto relay -loops 1;
#               haproxy: servers/haproxy/haproxy.cfg, mode tcp, one
#               thread)
#   RESULTS_DIR where the records go (emptied!)       bench/results-relay
#   REPORT      the file whose relay section is rewritten  bench/RESULTS.md
#
#   a  hello, 100 connections, pipeline 1, 64-byte payload
#   c  hello, 100 connections, pipeline 16, 64-byte payload
#   d  echo, 50 connections, 4 KiB messages, pipeline 1
#
# The proxy runs on CPU 0 (taskset -c 0; simple-server with GOMAXPROCS=1),
# the C upstream and the load generator (simple-client) share CPU 1. Each
# run starts a fresh upstream and a fresh proxy on free ports of
# 127.0.0.1, measures the proxy's CPU ticks and RSS from /proc, and stops
# both (TERM, then KILL) at its end and on exit; the client has a timeout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# shellcheck source=lib.sh
. "$here/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
SCENARIOS=${SCENARIOS:-a c d}
PROXIES=${PROXIES:-simpleserver haproxy}
DUR=${DURATION%s}
[[ $DUR =~ ^[1-9][0-9]*$ ]] || { echo "relay.sh: DURATION must be whole seconds, got '$DURATION'" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "relay.sh: ROUNDS must be a positive integer" >&2; exit 2; }
for p in $PROXIES; do
	case $p in simpleserver | haproxy) ;; *) echo "relay.sh: unknown proxy $p (want simpleserver, haproxy)" >&2; exit 2 ;; esac
done
for s in $SCENARIOS; do
	case $s in a | c | d) ;; *) echo "relay.sh: unknown scenario $s (want a, c, d)" >&2; exit 2 ;; esac
done
for tool in go gcc taskset timeout ss awk; do
	command -v "$tool" >/dev/null || { echo "relay.sh: $tool is required" >&2; exit 2; }
done
if [[ " $PROXIES " == *" haproxy "* ]] && ! command -v haproxy >/dev/null; then
	echo "relay.sh: haproxy is required (apt-get update && apt-get install -y haproxy), or PROXIES=simpleserver" >&2
	exit 2
fi
if [ "$(nproc)" -lt 2 ]; then
	echo "relay.sh: needs 2 CPUs (proxy on CPU 0, upstream and load on CPU 1)" >&2
	exit 2
fi

OUT=$here/out/relay
RES=${RESULTS_DIR:-$here/results-relay}
REPORT=${REPORT:-$here/RESULTS.md}
LOGS=$OUT/logs
mkdir -p "$OUT" "$RES" "$LOGS"

# ---------------------------------------------------------------- build
log "building into $OUT"
go build -o "$OUT/" ./report
(cd .. && go build -o "$OUT/" ./cmd/simple-client)
gcc -O2 -Wall -o "$OUT/c" servers/c/hello.c
if [[ " $PROXIES " == *" simpleserver "* ]]; then
	(cd .. && go build -o "$OUT/" ./cmd/simple-server)
	# Until the relay exists, -proto relay fails at start with "unknown
	# -proto"; its -upstream flag says it is there.
	if ! timeout 10 "$OUT/simple-server" -h 2>&1 | grep -q -e '^ *-upstream'; then
		echo "relay.sh: this simple-server has no -upstream flag (no -proto relay yet); run PROXIES=haproxy meanwhile" >&2
		exit 2
	fi
fi
if [[ " $PROXIES " == *" haproxy "* ]]; then
	sed -e s/__ADDR__/127.0.0.1:1/ -e s/__UPSTREAM__/127.0.0.1:2/ servers/haproxy/haproxy.cfg >"$OUT/haproxy-check.cfg"
	timeout 10 haproxy -c -q -f "$OUT/haproxy-check.cfg" || { echo "relay.sh: servers/haproxy/haproxy.cfg does not pass haproxy -c" >&2; exit 2; }
fi
rm -f "$RES"/*.json

# ---------------------------------------------------------------- processes
# proxy_argv name upstream-port: sets ARGV to the command that starts the
# proxy on CPU 0 in front of 127.0.0.1:upstream-port, with __PORT__ where
# its own port goes.
proxy_argv() {
	case $1 in
	simpleserver) ARGV=(taskset -c 0 env GOMAXPROCS=1 "$OUT/simple-server" -proto relay -upstream "127.0.0.1:$2" -loops 1 -addr 127.0.0.1:__PORT__) ;;
	haproxy)
		# The port is only known inside launch: a wrapper writes the
		# config, then execs haproxy (so SERVER_PID is haproxy's).
		ARGV=(sh -c 'sed -e "s/__ADDR__/127.0.0.1:$1/" -e "s/__UPSTREAM__/127.0.0.1:$2/" "$3" >"$4" && exec taskset -c 0 haproxy -db -f "$4"' \
			sh __PORT__ "$2" "$here/servers/haproxy/haproxy.cfg" "$OUT/haproxy.cfg") ;;
	esac
}
# upstream_argv proto: sets ARGV to the C server's command, on CPU 1.
upstream_argv() {
	ARGV=(taskset -c 1 "$OUT/c" -proto "$1" -addr 127.0.0.1:__PORT__)
}

# Peak resident memory (VmHWM) of a process and its children, KiB.
hwm_kb() {
	local p k=0
	for p in $(tree "$1"); do
		k=$((k + $(awk '/^VmHWM:/ {print $2}' "/proc/$p/status")))
	done
	echo "$k"
}

# ---------------------------------------------------------------- scenarios
scenario_proto() { case $1 in d) echo echo ;; *) echo hello ;; esac; }
scenario_args() { # as run.sh's
	case $1 in
	a) echo "-proto hello -c 100 -pipeline 1 -size 64 -d ${DUR}s" ;;
	c) echo "-proto hello -c 100 -pipeline 16 -size 64 -d ${DUR}s" ;;
	d) echo "-proto echo -c 50 -pipeline 1 -size 4096 -d ${DUR}s" ;;
	esac
}
scenario_title() {
	case $1 in
	a) echo "(a) hello, 100 connections, pipeline 1, 64-byte payload" ;;
	c) echo "(c) hello, 100 connections, pipeline 16, 64-byte payload" ;;
	d) echo "(d) echo, 50 connections, 4 KiB messages, pipeline 1" ;;
	esac
}

# failed tag scen name round: the record of a run that never started.
failed() {
	echo "{\"scenario\":\"$2\",\"server\":\"$3\",\"round\":$4,\"client_exit\":-1,\"client\":null}" >"$RES/$1.json"
	log "  $1: did not start"
}

# one_run scenario proxy round: a fresh upstream and proxy, one measured
# run through the proxy, one record. The record's "server" is the proxy:
# its server_* fields are the proxy's.
one_run() {
	local scen=$1 name=$2 round=$3 tag="$1-$2-r$3"
	local logf=$LOGS/$tag.proxy.log ulog=$LOGS/$tag.upstream.log cjson=$OUT/$tag.client.json cerr=$LOGS/$tag.client.log
	local proto args up_port up_cmd cmd cpid u0 u1 run_rss peak cj=null
	proto=$(scenario_proto "$scen")
	read -ra args <<<"$(scenario_args "$scen")"

	upstream_argv "$proto"
	if ! launch c "$ulog" "${ARGV[@]}"; then
		failed "$tag" "$scen" "$name" "$round"
		return 0
	fi
	UP_PID=$SERVER_PID up_port=$PORT
	SERVER_PID=
	BG_PIDS=("$UP_PID") # cleanup stops it too
	up_cmd=$(shown "${ARGV[@]//__PORT__/$up_port}")

	proxy_argv "$name" "$up_port"
	if ! launch "$name" "$logf" "${ARGV[@]}"; then
		stop_pid "$UP_PID"
		BG_PIDS=()
		failed "$tag" "$scen" "$name" "$round"
		return 0
	fi
	sleep 0.2
	cmd=(timeout -k 5 $((DUR + 120)) taskset -c 1 "$OUT/simple-client" -addr "127.0.0.1:$PORT" -json -q "${args[@]}")
	measure_begin
	u0=$(proc_ticks "$UP_PID")
	RSS1=null CODE=0
	"${cmd[@]}" >"$cjson" 2>"$cerr" &
	cpid=$!
	BG_PIDS+=("$cpid")
	# The proxy's RSS with every connection open and busy, half way in.
	sleep "$(awk -v d="$DUR" 'BEGIN {print d / 2}')"
	run_rss=$(rss_kb "$SERVER_PID" 2>/dev/null) || run_rss=null
	wait "$cpid" || CODE=$?
	measure_end
	u1=$(proc_ticks "$UP_PID" 2>/dev/null) || u1=$u0
	peak=$(hwm_kb "$SERVER_PID" 2>/dev/null) || peak=null
	stop_server
	stop_pid "$UP_PID"
	BG_PIDS=()
	"$OUT/report" -valid "$cjson" 2>/dev/null && cj=$(cat "$cjson")
	write_record "$RES/$tag.json" "$scen" "$name" "$round" "$DUR" "$(shown "${ARGV[@]//__PORT__/$PORT}")" "$(shown "${cmd[@]}")" "$cj" \
		"\"upstream_command\":\"$(json_escape "$up_cmd")\",\"upstream_cpu_ticks\":$((u1 - u0)),\"server_rss_run_kb\":$run_rss,\"server_rss_peak_kb\":$peak"
	log "  $tag: $("$OUT/report" -summary "$RES/$tag.json" 2>&1 || true)"
}

# ---------------------------------------------------------------- main
UP_PID=
{
	machine_notes
	echo "gcc=$(gcc --version | head -n1)"
	if command -v haproxy >/dev/null; then
		echo "haproxy_version=$(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}')"
	fi
	echo "rounds=$ROUNDS"
	echo "duration_s=$DUR"
	echo "proxies=$PROXIES"
	echo "scenarios=$SCENARIOS"
	echo "command=ROUNDS=$ROUNDS DURATION=${DUR}s SCENARIOS='$SCENARIOS' PROXIES='$PROXIES' bench/relay.sh"
	for name in $PROXIES; do
		proxy_argv "$name" __UPSTREAM_PORT__
		echo "proxy_$name=$(shown "${ARGV[@]}")"
	done
	upstream_argv __PROTO__
	echo "upstream=$(shown "${ARGV[@]}")"
	for s in $SCENARIOS; do
		read -ra args <<<"$(scenario_args "$s")"
		echo "client_$s=$(shown taskset -c 1 "$OUT/simple-client" -addr 127.0.0.1:__PORT__ -json -q "${args[@]}")"
	done
} >"$RES/machine.txt"

log "rounds=$ROUNDS duration=${DUR}s proxies='$PROXIES' scenarios='$SCENARIOS'"
proxies=($PROXIES)
for scen in $SCENARIOS; do
	log "scenario $(scenario_title "$scen")"
	for round in $(seq 1 "$ROUNDS"); do
		# Interleaved, each round starting one proxy further on.
		for i in $(seq 0 $((${#proxies[@]} - 1))); do
			one_run "$scen" "${proxies[$(((i + round - 1) % ${#proxies[@]}))]}" "$round"
		done
	done
done
echo "loadavg_end=$(cat /proc/loadavg)" >>"$RES/machine.txt"
echo "end=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >>"$RES/machine.txt"
"$OUT/report" -relay "$RES" -out "$REPORT"
log "records in $RES/, tables in $REPORT"
