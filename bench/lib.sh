# bench/lib.sh: what bench/run.sh (hello and echo), bench/http.sh (HTTP)
# and bench/relay.sh (TCP proxies) share: starting one server at a time on
# a free port, stopping it, and reading its CPU and memory and the
# machine's CPU counters from /proc.
# Sourced, never run; the caller sets `set -euo pipefail` and calls
# `trap cleanup EXIT`.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SERVER_PID=
BG_PIDS=()
cleanup() {
	local p
	for p in $SERVER_PID "${BG_PIDS[@]}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	sleep 0.5
	for p in $SERVER_PID "${BG_PIDS[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
	done
}

# free_port prints a port below the ephemeral range with no socket on it
# at all (not even TIME_WAIT), so the server binds it and the clients'
# own ports never collide with it.
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
			echo "$p"
			return
		fi
	done
	echo "bench: no free port found" >&2
	exit 1
}

# launch name logfile command...: runs the command (which must exec the
# server itself: taskset and env do) with __PORT__ in its arguments
# replaced by a free port, until it listens there. Sets SERVER_PID and
# PORT, or fails after five ports.
launch() {
	local name=$1 logf=$2 attempt i a
	shift 2
	for attempt in 1 2 3 4 5; do
		PORT=$(free_port)
		local argv=()
		for a in "$@"; do argv+=("${a//__PORT__/$PORT}"); done
		"${argv[@]}" >"$logf" 2>&1 &
		SERVER_PID=$!
		for i in $(seq 1 100); do # 10 s
			if ! kill -0 "$SERVER_PID" 2>/dev/null; then
				break
			fi
			if [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; then
				return 0
			fi
			sleep 0.1
		done
		stop_server
		log "  $name did not start on port $PORT (attempt $attempt): $(tail -n 2 "$logf" | tr '\n' ' ')"
	done
	log "  $name would not start: this run is skipped"
	return 1
}

stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	stop_pid "$SERVER_PID"
	SERVER_PID=
}

# stop_pid pid: TERM, up to 5 s to exit, then KILL; reaps it. For a
# second server beside SERVER_PID (relay.sh's upstream).
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	local i
	for i in $(seq 1 50); do # 5 s
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# tree pid: the process and its children (nginx's workers; a Go server has
# none), one per line.
tree() {
	echo "$1"
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true
}
# CPU ticks (utime+stime, all threads) of a process and its children;
# fields after "comm)".
proc_ticks() {
	local p t=0
	for p in $(tree "$1"); do
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo "$t"
}
# Resident memory of a process and its children, KiB.
rss_kb() {
	local p k=0
	for p in $(tree "$1"); do
		k=$((k + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
	done
	echo "$k"
}
# Busy and total ticks of the whole machine, then of CPU 0 and CPU 1.
sys_ticks() {
	awk '/^cpu[01 ] / { b = $2+$3+$4+$7+$8+$9; printf "%d %d ", b, b+$5+$6 } END { print "" }' /proc/stat
}
CLK_TCK=$(getconf CLK_TCK)

# machine_notes: the key=value lines every results directory starts with.
machine_notes() {
	echo "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "nproc=$(nproc)"
	echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "kernel=$(uname -srm)"
	echo "go=$(go version)"
	echo "clk_tck=$CLK_TCK"
	echo "loadavg_start=$(cat /proc/loadavg)"
}

# measure_begin and measure_end bracket one measured run of the server
# SERVER_PID: they set T0/T1 (its CPU ticks), SYS0/SYS1 (the machine's),
# RSS0 and LOAD.
measure_begin() {
	RSS0=$(rss_kb "$SERVER_PID")
	T0=$(proc_ticks "$SERVER_PID")
	SYS0=$(sys_ticks)
}
measure_end() {
	T1=$(proc_ticks "$SERVER_PID" || echo "$T0")
	SYS1=$(sys_ticks)
	LOAD=$(cut -d' ' -f1 /proc/loadavg)
}

# held_client stderr-file command...: runs a simple-client with -hold in
# the background and, once it says it holds every connection, reads the
# server's RSS into RSS1 ("null" if it never got there); then waits for it
# and sets CODE to its exit status.
held_client() {
	local cerr=$1 cpid i
	shift
	RSS1=null CODE=0
	"$@" 2>"$cerr" &
	cpid=$!
	BG_PIDS+=("$cpid")
	for i in $(seq 1 1800); do # 3 min
		grep -q '^simple-client: holding' "$cerr" 2>/dev/null && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^simple-client: holding' "$cerr" 2>/dev/null; then
		sleep 0.5 # let the server finish its turn
		RSS1=$(rss_kb "$SERVER_PID")
	fi
	wait "$cpid" || CODE=$?
	BG_PIDS=()
}

# shown command...: the command as a shell would take it, paths under
# bench/ written from the repository's root ($here is the caller's bench/).
shown() {
	local s
	s=$(printf '%q ' "$@")
	s=${s% }
	printf '%s' "${s//$here/bench}"
}

# json_escape text: text as the inside of a JSON string (a command line
# may hold quotes and backslashes: nginx's does).
json_escape() {
	local s=${1//\\/\\\\}
	printf '%s' "${s//\"/\\\"}"
}

# write_record file scenario server round duration server-command
# client-command client-json [extra]: one run's record, from the measure_*
# and held_client variables and CODE; extra, if given, is more members
# ("key":value,...) put before the client's result.
write_record() {
	local mb0 mt0 c0b0 c0t0 c1b0 c1t0 mb1 mt1 c0b1 c0t1 c1b1 c1t1
	read -r mb0 mt0 c0b0 c0t0 c1b0 c1t0 <<<"$SYS0"
	read -r mb1 mt1 c0b1 c0t1 c1b1 c1t1 <<<"$SYS1"
	cat >"$1" <<REC
{"scenario":"$2","server":"$3","round":$4,"duration_s":$5,
 "server_command":"$(json_escape "$6")",
 "client_command":"$(json_escape "$7")",
 "clk_tck":$CLK_TCK,"server_cpu_ticks":$((T1 - T0)),
 "server_rss_before_kb":${RSS0:-null},"server_rss_held_kb":${RSS1:-null},
 "machine_busy_ticks":$((mb1 - mb0)),"machine_total_ticks":$((mt1 - mt0)),
 "cpu0_busy_ticks":$((c0b1 - c0b0)),"cpu0_total_ticks":$((c0t1 - c0t0)),
 "cpu1_busy_ticks":$((c1b1 - c1b0)),"cpu1_total_ticks":$((c1t1 - c1t0)),
 "loadavg_after":$LOAD,"client_exit":$CODE,${9:+
 $9,}
 "client":$8}
REC
}
