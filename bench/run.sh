#!/usr/bin/env bash
# bench/run.sh: build every benchmark server and simple-client, run the
# scenarios against each server in interleaved rounds, and write
# bench/RESULTS.md (tables) and bench/results/*.json (one record per run).
#
#   bench/run.sh                          # 3 rounds x 10s, every scenario
#   ROUNDS=1 DURATION=2s bench/run.sh     # smoke run
#   bench/run.sh --rounds 5 --duration 20s --scenarios "a c" --servers "c simpleserver gnet"
#
# Settings (environment variables, or the flags --rounds, --duration,
# --scenarios, --servers, --syscalls, --syscall-duration, --rate):
#   ROUNDS      rounds per scenario (every server once per round)       3
#   DURATION    length of each run, whole seconds ("10" or "10s")       10s
#   SCENARIOS   any of a b c d e f                                      all
#   SERVERS     any of c simpleserver portable net gnet netpoll nbio    all
#               evio (portable: servers/simpleserver built with -tags
#               simpleserver_portable, the library on Go's net package)
#   SYSCALLS    1: strace -c (and perf stat, if present) section        1
#   SYSCALL_DURATION  length of each traced run                         5s
#   RATE        scenario f's rate when scenario a is not run            -
#   RESULTS_DIR, REPORT  where the records and the report go (emptied /
#               overwritten!)                     bench/results, bench/RESULTS.md
#
# The server runs on CPU 0 (taskset -c 0, GOMAXPROCS=1 for Go servers),
# the load generator on CPU 1 (taskset -c 1). Every run uses a fresh free
# port on 127.0.0.1, every command has a timeout, and every server is
# stopped (TERM, then KILL) at the end of its run and on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# shellcheck source=lib.sh
. "$here/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
SCENARIOS=${SCENARIOS:-a b c d e f}
SERVERS=${SERVERS:-c simpleserver portable net gnet netpoll nbio evio}
SYSCALLS=${SYSCALLS:-1}
SYSCALL_DURATION=${SYSCALL_DURATION:-5s}
RATE=${RATE:-}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--scenarios) SCENARIOS=$2; shift 2 ;;
	--servers) SERVERS=$2; shift 2 ;;
	--syscalls) SYSCALLS=$2; shift 2 ;;
	--syscall-duration) SYSCALL_DURATION=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
done

seconds() { # "10s" or "10" -> 10
	local d=${1%s}
	[[ $d =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: duration must be whole seconds, got '$1'" >&2; exit 2; }
	echo "$d"
}
DUR=$(seconds "$DURATION")
SYSDUR=$(seconds "$SYSCALL_DURATION")
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: ROUNDS must be a positive integer" >&2; exit 2; }
for s in $SERVERS; do
	case $s in c | simpleserver | portable | net | gnet | netpoll | nbio | evio) ;; *) echo "run.sh: unknown server $s" >&2; exit 2 ;; esac
done
for s in $SCENARIOS; do
	case $s in a | b | c | d | e | f) ;; *) echo "run.sh: unknown scenario $s" >&2; exit 2 ;; esac
done
for tool in go gcc taskset timeout ss awk; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done
if [ "$(nproc)" -lt 2 ]; then
	echo "run.sh: needs 2 CPUs (server on CPU 0, load on CPU 1)" >&2
	exit 2
fi

OUT=$here/out
RES=${RESULTS_DIR:-$here/results}
REPORT=${REPORT:-$here/RESULTS.md}
LOGS=$OUT/logs
mkdir -p "$OUT" "$RES" "$LOGS"

# ---------------------------------------------------------------- build
log "building into $OUT"
(cd "$here" && go build -o "$OUT/" ./servers/simpleserver ./servers/net ./servers/gnet ./servers/netpoll ./servers/nbio ./servers/evio ./report)
# portable: the same server source on the library's portable engine.
(cd "$here" && go build -tags simpleserver_portable -o "$OUT/portable" ./servers/simpleserver)
(cd "$here/.." && go build -o "$OUT/simple-client" ./cmd/simple-client)
gcc -O2 -Wall -o "$OUT/c" servers/c/hello.c
rm -f "$RES"/*.json "$RES"/*.txt

# ---------------------------------------------------------------- processes
server_cmd() { # name proto port -> the command line
	local name=$1 proto=$2 port=$3
	if [ "$name" = c ]; then
		echo "taskset -c 0 $OUT/c -proto $proto -addr 127.0.0.1:$port"
	else
		echo "taskset -c 0 env GOMAXPROCS=1 $OUT/$name -proto $proto -addr 127.0.0.1:$port"
	fi
}

# start_server name proto logfile: sets SERVER_PID and PORT, or fails.
start_server() {
	local name=$1 proto=$2 logf=$3
	if [ "$name" = c ]; then
		launch "$name" "$logf" taskset -c 0 "$OUT/c" -proto "$proto" -addr 127.0.0.1:__PORT__
	else
		launch "$name" "$logf" taskset -c 0 env GOMAXPROCS=1 "$OUT/$name" -proto "$proto" -addr 127.0.0.1:__PORT__
	fi
}

client() { # args... ; runs simple-client on CPU 1 with a hard timeout
	timeout -k 5 $((DUR + 120)) taskset -c 1 "$OUT/simple-client" "$@"
}

# ---------------------------------------------------------------- scenarios
# Client arguments per scenario (the server address is added per run).
scenario_proto() { case $1 in d) echo echo ;; *) echo hello ;; esac; }
scenario_args() {
	case $1 in
	a) echo "-proto hello -c 100 -pipeline 1 -size 64 -d ${DUR}s" ;;
	b) echo "-proto hello -c 1000 -pipeline 1 -size 64 -d ${DUR}s" ;;
	c) echo "-proto hello -c 100 -pipeline 16 -size 64 -d ${DUR}s" ;;
	d) echo "-proto echo -c 50 -pipeline 1 -size 4096 -d ${DUR}s" ;;
	e) echo "-proto hello -c 10000 -hold -size 64 -d ${DUR}s" ;;
	f) echo "-proto hello -c 100 -pipeline 8 -size 64 -rate $RATE -d ${DUR}s" ;;
	esac
}
scenario_title() {
	case $1 in
	a) echo "(a) hello, 100 connections, pipeline 1, 64-byte payload" ;;
	b) echo "(b) hello, 1,000 connections, pipeline 1, 64-byte payload" ;;
	c) echo "(c) hello, 100 connections, pipeline 16, 64-byte payload" ;;
	d) echo "(d) echo, 50 connections, 4 KiB messages, pipeline 1" ;;
	e) echo "(e) idle memory: 10,000 connections answered once, then held" ;;
	f) echo "(f) latency at a fixed offered rate" ;;
	esac
}

# one_run scenario server round: one measured run, one JSON record.
one_run() {
	local scen=$1 name=$2 round=$3
	local tag="$scen-$name-r$round"
	local logf=$LOGS/$tag.server.log cjson=$OUT/$tag.client.json cerr=$LOGS/$tag.client.log
	local proto args
	proto=$(scenario_proto "$scen")
	args=$(scenario_args "$scen")
	if ! start_server "$name" "$proto" "$logf"; then
		echo "{\"scenario\":\"$scen\",\"server\":\"$name\",\"round\":$round,\"client_exit\":-1,\"client\":null}" >"$RES/$tag.json"
		return 0
	fi
	sleep 0.2
	measure_begin
	RSS1=null CODE=0
	# shellcheck disable=SC2086
	if [ "$scen" = e ]; then
		held_client "$cerr" timeout -k 5 $((DUR + 120)) taskset -c 1 "$OUT/simple-client" -addr "127.0.0.1:$PORT" -json -q $args >"$cjson"
	else
		client -addr "127.0.0.1:$PORT" -json -q $args >"$cjson" 2>"$cerr" || CODE=$?
	fi
	measure_end
	stop_server
	local cj=null
	"$OUT/report" -valid "$cjson" 2>/dev/null && cj=$(cat "$cjson")
	write_record "$RES/$tag.json" "$scen" "$name" "$round" "$DUR" "$(server_cmd "$name" "$proto" "$PORT")" \
		"taskset -c 1 $OUT/simple-client -addr 127.0.0.1:$PORT -json -q $args" "$cj"
	local summary
	summary=$("$OUT/report" -summary "$RES/$tag.json" 2>&1 || true)
	log "  $tag: $summary"
}

run_scenario() {
	local scen=$1 round name i servers=($SERVERS) n
	n=${#servers[@]}
	log "scenario $(scenario_title "$scen")"
	for round in $(seq 1 "$ROUNDS"); do
		# Interleaved, and each round starts one server further on, so
		# no server always runs first (or right after the same one).
		for i in $(seq 0 $((n - 1))); do
			name=${servers[$(((i + round - 1) % n))]}
			one_run "$scen" "$name" "$round"
		done
	done
}

# ---------------------------------------------------------------- syscalls
# syscall_run tool name scen: a short (a)- or (c)-style run with the server
# under strace -c -f (or perf stat counting syscall tracepoints).
PERF_EVENTS=syscalls:sys_enter_read,syscalls:sys_enter_readv,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_pwait2,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,raw_syscalls:sys_enter
syscall_run() {
	local tool=$1 name=$2 scen=$3
	local tag="$tool-$scen-$name"
	local logf=$LOGS/$tag.server.log cjson=$OUT/$tag.client.json cerr=$LOGS/$tag.client.log out=$RES/$tag.txt
	local args tpid code=0
	args=$(DUR=$SYSDUR scenario_args "$scen")
	start_server "$name" hello "$logf" || return 0
	case $tool in
	strace) timeout -k 5 $((SYSDUR + 120)) strace -c -f -q -o "$out" -p "$SERVER_PID" 2>>"$logf" & ;;
	perf) timeout -k 5 $((SYSDUR + 120)) perf stat -x, -o "$out" -e "$PERF_EVENTS" -p "$SERVER_PID" 2>>"$logf" & ;;
	esac
	tpid=$!
	BG_PIDS+=("$tpid")
	sleep 1 # attached to every thread
	# shellcheck disable=SC2086
	timeout -k 5 $((SYSDUR + 120)) taskset -c 1 "$OUT/simple-client" -addr "127.0.0.1:$PORT" -json -q $args >"$cjson" 2>"$cerr" || code=$?
	kill -INT "$tpid" 2>/dev/null || true
	wait "$tpid" 2>/dev/null || true
	BG_PIDS=()
	stop_server
	local cj=null
	"$OUT/report" -valid "$cjson" 2>/dev/null && cj=$(cat "$cjson")
	cat >"$RES/$tag.json" <<EOF
{"syscalls":"$tool","scenario":"$scen","server":"$name","trace_file":"$(basename "$out")",
 "server_command":"$(server_cmd "$name" hello "$PORT")",
 "trace_command":"$( [ "$tool" = strace ] && echo "strace -c -f -q -p <server pid>" || echo "perf stat -x, -e <syscall tracepoints> -p <server pid>")",
 "client_command":"taskset -c 1 $OUT/simple-client -addr 127.0.0.1:$PORT -json -q $args",
 "client_exit":$code,"client":$cj}
EOF
	log "  $tag: $("$OUT/report" -summary "$RES/$tag.json" 2>&1 || true)"
}

# ---------------------------------------------------------------- main
{
	machine_notes
	echo "gcc=$(gcc --version | head -n1)"
	echo "rounds=$ROUNDS"
	echo "duration_s=$DUR"
	echo "servers=$SERVERS"
	echo "scenarios=$SCENARIOS"
	echo "command=ROUNDS=$ROUNDS DURATION=${DUR}s SCENARIOS='$SCENARIOS' SERVERS='$SERVERS' SYSCALLS=$SYSCALLS SYSCALL_DURATION=${SYSDUR}s bench/run.sh"
	for s in $SERVERS; do echo "server_$s=$(server_cmd "$s" '<hello|echo>' '<port>')"; done
	if [[ " $SERVERS " == *" portable "* ]]; then
		echo "build_portable=go build -tags simpleserver_portable -o $OUT/portable ./servers/simpleserver"
	fi
	for s in a b c d e; do echo "client_$s=taskset -c 1 $OUT/simple-client -addr 127.0.0.1:<port> -json -q $(scenario_args $s)"; done
} >"$RES/machine.txt"

log "rounds=$ROUNDS duration=${DUR}s servers='$SERVERS' scenarios='$SCENARIOS'"
for scen in $SCENARIOS; do
	if [ "$scen" = f ]; then
		if [[ " $SCENARIOS " == *" a "* ]]; then
			RATE=$("$OUT/report" -rate-from "$RES" -servers "$SERVERS") || RATE=
		fi
		if [ -z "$RATE" ]; then
			echo "run.sh: scenario f needs scenario a in the same run, or RATE=..." >&2
			exit 2
		fi
		log "scenario f offers $RATE req/s"
		echo "rate_f=$RATE" >>"$RES/machine.txt"
		echo "client_f=taskset -c 1 $OUT/simple-client -addr 127.0.0.1:<port> -json -q $(scenario_args f)" >>"$RES/machine.txt"
	fi
	run_scenario "$scen"
done

if [ "$SYSCALLS" = 1 ]; then
	log "syscall counts (strace -c -f; perf stat if available), ${SYSDUR}s runs"
	tools=()
	if command -v strace >/dev/null; then tools+=(strace); else log "  strace missing: apt-get install -y strace"; fi
	if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_read true >/dev/null 2>&1; then tools+=(perf); fi
	for tool in "${tools[@]}"; do
		for scen in a c; do
			for name in c simpleserver; do
				[[ " $SERVERS " == *" $name "* ]] && syscall_run "$tool" "$name" "$scen"
			done
		done
	done
	if [[ " ${tools[*]} " == *" perf "* ]]; then # cheap enough for every peer too
		for scen in a c; do
			for name in $SERVERS; do
				case $name in c | simpleserver) ;; *) syscall_run perf "$name" "$scen" ;; esac
			done
		done
	fi
fi

echo "loadavg_end=$(cat /proc/loadavg)" >>"$RES/machine.txt"
echo "end=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >>"$RES/machine.txt"
"$OUT/report" -results "$RES" -out "$REPORT"
log "wrote $REPORT and $RES/"
