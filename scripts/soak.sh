#!/usr/bin/env bash
# soak.sh — soak test for simple-server (issue 5).
#
# Builds simple-server and simple-client into a temp dir, starts the server
# on 127.0.0.1 (a free port), and for DURATION runs
#
#   * one long-lived simple-client: CONNS connections (default 5000),
#     -pipeline PIPELINE, verifying every reply, for the whole run;
#   * CHURN_PARALLEL churn slots, each starting short simple-client runs
#     back to back: 50..200 connections, 20..300 requests per connection,
#     random pipeline depth, half of them with -close, about a third
#     SIGKILLed at a random moment mid-run (abrupt disconnects).
#
# Every SAMPLE_EVERY it prints the server's RSS, open descriptors and
# goroutines and fails (exit 1) at once when
#
#   * a simple-client run the script did not SIGKILL exits non-zero
#     (a mismatch or a connection error), or any run outlives its deadline;
#   * the server dies, or its stats line stops coming;
#   * goroutines > loops + workers + GOROUTINE_SLACK (any sample);
#   * open fds > baseline + CONNS + CHURN_PARALLEL*CHURN_MAX_CONNS + FD_SLACK
#     (any sample);
#   * after the warm-up (first 20% of the run), RSS > warm-up max * 1.2 +
#     16 MiB.
#
# After the load it also requires: every connection closed on the server
# and the fd count back to its baseline; server msgs_in >= every request
# the clients verified; no close for panic/protocol/slow consumer/limit/
# idle/read or write timeout; no WARN or ERROR line in the server log; and
# SIGTERM ends the server with status 0 within SHUTDOWN_DEADLINE.
#
# Usage:
#   scripts/soak.sh                 # 10 minutes
#   DURATION=30s scripts/soak.sh    # the CI version
#   scripts/soak.sh -d 2m -c 2000   # flags override the environment
#
# Environment (defaults in brackets): DURATION [10m], CONNS [5000],
# PIPELINE [4], CHURN_PARALLEL [2], CHURN_MIN_CONNS [50],
# CHURN_MAX_CONNS [200], KILL_PERCENT [33], SAMPLE_EVERY [2s below 2m, else 5s],
# CLIENT_TIMEOUT [10s], SERVER_FLAGS [] (extra simple-server flags, e.g.
# "-workers 4"), SEED [random], KEEP_TMP [0] (keep the temp dir on success;
# it is always kept on failure).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while getopts ":d:c:h" opt; do
	case $opt in
	d) DURATION=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if (($# > 0)); then
	echo "soak: unexpected arguments: $*" >&2
	exit 2
fi

DURATION=${DURATION:-10m}
CONNS=${CONNS:-5000}
PIPELINE=${PIPELINE:-4}
CHURN_PARALLEL=${CHURN_PARALLEL:-2}
CHURN_MIN_CONNS=${CHURN_MIN_CONNS:-50}
CHURN_MAX_CONNS=${CHURN_MAX_CONNS:-200}
CHURN_MIN_REQS=${CHURN_MIN_REQS:-20}  # per connection
CHURN_MAX_REQS=${CHURN_MAX_REQS:-300} # per connection
KILL_PERCENT=${KILL_PERCENT:-33}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-10s}
SERVER_FLAGS=${SERVER_FLAGS:-}
KEEP_TMP=${KEEP_TMP:-0}
SEED=${SEED:-$(( $$ ^ ${EPOCHREALTIME/./} % 32768 ))}
STATS_INTERVAL=1s       # server -stats-interval
GOROUTINE_SLACK=8       # main, signal.Notify, the Start waiter, stats; + margin
FD_SLACK=64             # listener, epoll+eventfd per loop, reserve fd, stdio, cgroup files, closes in flight
RSS_GROWTH_PCT=20       # RSS after warm-up <= warm-up max * 1.2 + 16 MiB
RSS_GROWTH_ABS_KB=$((16 * 1024))
CHURN_DEADLINE=90       # s: a churn run (-d 30s cap + a -timeout to drain + dials) that lives longer hangs
SHUTDOWN_DEADLINE=15    # s: SIGTERM to exit (-shutdown-timeout is 10s)
DRAIN_DEADLINE=20       # s: after the load, open=0 and fds back to baseline

die() { # usage error before anything runs
	echo "soak: $*" >&2
	exit 2
}

# seconds parses 90, 30s, 10m, 1h, 1m30s.
seconds() {
	local s=$1 total=0 n u
	[[ $s =~ ^([0-9]+[smh]?)+$ ]] || return 1
	if [[ $s =~ ^[0-9]+$ ]]; then
		echo "$s"
		return
	fi
	while [[ $s =~ ^([0-9]+)([smh])(.*)$ ]]; do
		n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
		case $u in
		s) total=$((total + 10#$n)) ;;
		m) total=$((total + 60 * 10#$n)) ;;
		h) total=$((total + 3600 * 10#$n)) ;;
		esac
	done
	[[ -z $s ]] || return 1
	echo "$total"
}

DUR_S=$(seconds "$DURATION") || die "bad DURATION '$DURATION' (want e.g. 30s, 10m, 1h)"
((DUR_S >= 10)) || die "DURATION must be at least 10s"
for v in CONNS PIPELINE CHURN_PARALLEL CHURN_MIN_CONNS CHURN_MAX_CONNS CHURN_MIN_REQS CHURN_MAX_REQS KILL_PERCENT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
((CONNS >= 1 && PIPELINE >= 1 && CHURN_MIN_CONNS >= 1 && CHURN_MIN_CONNS <= CHURN_MAX_CONNS)) || die "bad CONNS/PIPELINE/CHURN_*_CONNS"
((CHURN_MIN_REQS >= 1 && CHURN_MIN_REQS <= CHURN_MAX_REQS && KILL_PERCENT <= 100)) || die "bad CHURN_*_REQS/KILL_PERCENT"
if [[ -n ${SAMPLE_EVERY:-} ]]; then
	SAMPLE_S=$(seconds "$SAMPLE_EVERY") || die "bad SAMPLE_EVERY '$SAMPLE_EVERY'"
	((SAMPLE_S >= 1)) || die "SAMPLE_EVERY must be at least 1s"
elif ((DUR_S < 120)); then
	SAMPLE_S=2
else
	SAMPLE_S=5
fi
WARMUP_S=$((DUR_S * 20 / 100))
CHURN_MAX_OPEN=$((CHURN_PARALLEL * CHURN_MAX_CONNS))

# The server holds CONNS + churn connections, the long-lived client CONNS;
# Go raises the soft RLIMIT_NOFILE to the hard one at start.
hard_nofile=$(ulimit -Hn)
if [[ $hard_nofile != unlimited ]] && ((CONNS + CHURN_MAX_OPEN + FD_SLACK + 64 > hard_nofile)); then
	die "CONNS ($CONNS) + churn ($CHURN_MAX_OPEN) + slack exceed the open-files limit ($hard_nofile)"
fi

RANDOM=$SEED
NOW=0
tick() { local t=${EPOCHREALTIME/./}; NOW=$((t / 1000)); } # ms, no fork

# ---------------------------------------------------------------- processes

TMP=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
SERVER_PID=""
LONG_PID=""
declare -a SLOT_PID SLOT_RUN SLOT_START SLOT_KILL_AT SLOT_KILLED SLOT_ARGS
for ((i = 0; i < CHURN_PARALLEL; i++)); do
	SLOT_PID[i]="" SLOT_RUN[i]=0 SLOT_START[i]=0 SLOT_KILL_AT[i]=0 SLOT_KILLED[i]=0 SLOT_ARGS[i]=""
done

# alive PID: the process exists and is not a zombie.
alive() {
	local pid=$1 st
	[[ -n $pid ]] || return 1
	{ read -r _ _ st _ <"/proc/$pid/stat"; } 2>/dev/null || return 1
	[[ $st != Z && $st != X ]]
}

cleanup() {
	local rc=$? pid pids=() still
	trap - EXIT INT TERM
	{ # stderr off: no "Killed" job notices
		for ((i = 0; i < CHURN_PARALLEL; i++)); do
			if alive "${SLOT_PID[i]}"; then
				kill -KILL "${SLOT_PID[i]}" || true
				wait "${SLOT_PID[i]}" || true
			fi
		done
		for pid in "$LONG_PID" "$SERVER_PID"; do
			if alive "$pid"; then
				kill -TERM "$pid" || true
				pids+=("$pid")
			fi
		done
		for ((i = 0; i < 30 && ${#pids[@]} > 0; i++)); do # up to 3s to go quietly
			sleep 0.1
			still=()
			for pid in "${pids[@]}"; do alive "$pid" && still+=("$pid"); done
			pids=("${still[@]}")
		done
		for pid in "${pids[@]}"; do kill -KILL "$pid" || true; done
		wait || true
	} 2>/dev/null
	if ((rc == 0)) && [[ $KEEP_TMP != 1 ]]; then
		rm -rf "$TMP"
	else
		echo "soak: logs kept in $TMP" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "soak: interrupted" >&2; exit 130' INT TERM

fail() {
	echo >&2
	echo "SOAK FAILED: $*" >&2
	if [[ -s $TMP/server.log ]]; then
		echo "--- last server log lines ($TMP/server.log):" >&2
		tail -n 5 "$TMP/server.log" | cut -c1-400 >&2
	fi
	exit 1
}

elapsed() { # seconds since the load started, one decimal
	local ms=$((NOW - T0))
	printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# ---------------------------------------------------------------- build

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
echo "soak: building simple-server and simple-client into $TMP"
(cd "$ROOT" && go build -o "$TMP/simple-server" ./cmd/simple-server && go build -o "$TMP/simple-client" ./cmd/simple-client) ||
	fail "build failed"
SERVER=$TMP/simple-server
CLIENT=$TMP/simple-client

# ---------------------------------------------------------------- server

SLOG=$TMP/server.log
# shellcheck disable=SC2086 # SERVER_FLAGS is a list of flags
"$SERVER" -addr 127.0.0.1:0 -stats-interval "$STATS_INTERVAL" -shutdown-timeout 10s $SERVER_FLAGS </dev/null >"$TMP/server.out" 2>"$SLOG" &
SERVER_PID=$!
ADDR="" LOOPS="" WORKERS=""
for ((i = 0; i < 100; i++)); do
	line=$(grep -a -m1 'msg="simple-server listening"' "$SLOG" || true)
	if [[ $line =~ \ addr=([^ ]+) ]]; then
		ADDR=${BASH_REMATCH[1]}
		[[ $line =~ \ loops=([0-9]+) ]] && LOOPS=${BASH_REMATCH[1]}
		[[ $line =~ \ workers=([0-9]+) ]] && WORKERS=${BASH_REMATCH[1]}
		break
	fi
	alive "$SERVER_PID" || fail "server exited at start: $(cat "$SLOG")"
	sleep 0.1
done
[[ -n $ADDR && -n $LOOPS && -n $WORKERS ]] || fail "no listening line from the server within 10s"
[[ $ADDR == 127.0.0.1:* ]] || fail "server listens on $ADDR, want 127.0.0.1"

GOROUTINE_MAX=$((LOOPS + WORKERS + GOROUTINE_SLACK))
# Wait for the first stats line: it gives the idle goroutine count, and the
# fd count then is the baseline (listener, pollers, eventfds, reserve, stdio).
for ((i = 0; i < 50; i++)); do
	grep -aq 'msg=stats' "$SLOG" && break
	sleep 0.1
done
grep -aq 'msg=stats' "$SLOG" || fail "no stats line from the server within 5s"
count_fds() { FDS=$({ ls "/proc/$SERVER_PID/fd" 2>/dev/null || true; } | wc -l); }
count_fds
BASE_FDS=$FDS
FD_MAX=$((BASE_FDS + CONNS + CHURN_MAX_OPEN + FD_SLACK))

# STAT: the server's latest stats line, and how many there have been.
STAT="" STAT_LINES=0
read_stats() {
	local s
	s=$(grep -a 'msg=stats' "$SLOG" || true)
	STAT_LINES=$(printf '%s\n' "$s" | grep -c . || true)
	STAT=${s##*$'\n'}
}
# sf NAME: a field of $STAT, or -1.
sf() {
	local re=" $1=([^ ]+)"
	if [[ $STAT =~ $re ]]; then echo "${BASH_REMATCH[1]}"; else echo -1; fi
}
rss_kb() {
	local k v _
	{
		while read -r k v _; do
			if [[ $k == VmRSS: ]]; then
				echo "$v"
				return
			fi
		done <"/proc/$SERVER_PID/status"
	} 2>/dev/null || true
	echo 0
}

cat <<EOF
soak: server $ADDR (pid $SERVER_PID, loops $LOOPS, workers $WORKERS${SERVER_FLAGS:+, flags: $SERVER_FLAGS})
soak: duration ${DUR_S}s (warm-up ${WARMUP_S}s), long-lived client -c $CONNS -pipeline $PIPELINE, churn $CHURN_PARALLEL slots of $CHURN_MIN_CONNS..$CHURN_MAX_CONNS conns x $CHURN_MIN_REQS..$CHURN_MAX_REQS requests, ~$KILL_PERCENT% SIGKILLed, seed $SEED
soak: bounds: goroutines <= $GOROUTINE_MAX ($LOOPS loops + $WORKERS workers + $GOROUTINE_SLACK); fds <= $FD_MAX (baseline $BASE_FDS + $CONNS + $CHURN_MAX_OPEN churn + $FD_SLACK); RSS after warm-up <= warm-up max * 1.$RSS_GROWTH_PCT + $((RSS_GROWTH_ABS_KB / 1024)) MiB
EOF

# ---------------------------------------------------------------- load

LONG_JSON=$TMP/long.json
tick
T0=$NOW
END=$((T0 + DUR_S * 1000))
WARM_END=$((T0 + WARMUP_S * 1000))
"$CLIENT" -addr "$ADDR" -c "$CONNS" -pipeline "$PIPELINE" -d "${DUR_S}s" -timeout "$CLIENT_TIMEOUT" -json -q \
	</dev/null >"$LONG_JSON" 2>"$TMP/long.err" &
LONG_PID=$!
LONG_STATUS=""

CHURN_RUNS=0 CHURN_OK=0 CHURN_KILLED=0 CHURN_REQS=0 CHURN_CONNS_DONE=0
RUN_SEQ=0

# jnum FILE KEY: a top-level number of a simple-client -json result.
jnum() {
	local v
	v=$(sed -n "s/^  \"$2\": \([-0-9.e+]*\),\{0,1\}\$/\1/p" "$1" | head -n 1)
	echo "${v:-}"
}
jerrtotal() { # errors.total
	local v
	v=$(tr -d ' \n' <"$1" | grep -o '"errors":{[^}]*}' | grep -o '"total":[0-9]*' || true)
	echo "${v#*:}"
}
jlat() { # latency_us.KEY in ms
	local v
	v=$(tr -d ' \n' <"$1" | grep -o '"latency_us":{[^}]*}' | grep -o "\"$2\":[-0-9.e+]*" || true)
	awk -v us="${v#*:}" 'BEGIN{printf "%.1f", us/1000}'
}
jstr() { sed -n "s/^  \"$2\": \"\(.*\)\",\{0,1\}\$/\1/p" "$1" | head -n 1; }

start_churn() { # slot
	local s=$1 c p per n close="" args
	local pipes=(1 2 4 8 16)
	c=$((CHURN_MIN_CONNS + RANDOM % (CHURN_MAX_CONNS - CHURN_MIN_CONNS + 1)))
	per=$((CHURN_MIN_REQS + RANDOM % (CHURN_MAX_REQS - CHURN_MIN_REQS + 1)))
	p=${pipes[RANDOM % ${#pipes[@]}]}
	n=$((c * per))
	((RANDOM % 2 == 0)) && close="-close"
	RUN_SEQ=$((RUN_SEQ + 1))
	args="-c $c -pipeline $p -n $n${close:+ $close}"
	# -d caps a run that the server slows down; it still must end clean.
	# shellcheck disable=SC2086
	"$CLIENT" -addr "$ADDR" $args -d 30s -timeout "$CLIENT_TIMEOUT" -json -q \
		</dev/null >"$TMP/churn.$s.json" 2>"$TMP/churn.$s.err" &
	SLOT_PID[s]=$! SLOT_RUN[s]=$RUN_SEQ SLOT_ARGS[s]=$args SLOT_KILLED[s]=0
	tick
	SLOT_START[s]=$NOW
	SLOT_KILL_AT[s]=0
	if ((RANDOM % 100 < KILL_PERCENT)); then
		# somewhere in the dial phase or mid-run: 20 ms .. 1.5 s (a run
		# takes from a few hundred ms to a few s)
		SLOT_KILL_AT[s]=$((NOW + 20 + RANDOM % 1480))
	fi
	CHURN_RUNS=$((CHURN_RUNS + 1))
}

# reap_churn SLOT [SIGNAL]: handle a churn run that ended, or send it
# SIGNAL and wait for it to end. Waiting right after the kill, with stderr
# off, keeps bash from printing a "Killed" job notice.
reap_churn() {
	local s=$1 st=0 what reqs
	if [[ -n ${2:-} ]]; then
		{
			kill "-$2" "${SLOT_PID[s]}" || true
			wait "${SLOT_PID[s]}" || st=$?
		} 2>/dev/null
	else
		wait "${SLOT_PID[s]}" || st=$?
	fi
	what="churn run #${SLOT_RUN[s]} ($(simple_args "${SLOT_ARGS[s]}"))"
	if ((SLOT_KILLED[s] == 1 && st == 137)); then
		CHURN_KILLED=$((CHURN_KILLED + 1))
	elif ((st == 0)); then
		reqs=$(jnum "$TMP/churn.$s.json" requests)
		[[ $(jnum "$TMP/churn.$s.json" mismatches) == 0 && $(jerrtotal "$TMP/churn.$s.json") == 0 && -n $reqs ]] ||
			fail "$what exited 0 but its result is not clean: $(tr -d '\n' <"$TMP/churn.$s.json" | cut -c1-600)"
		CHURN_OK=$((CHURN_OK + 1))
		CHURN_REQS=$((CHURN_REQS + reqs))
	else
		cp "$TMP/churn.$s.json" "$TMP/failed-churn.json" 2>/dev/null || true
		fail "$what exited with status $st$( ((SLOT_KILLED[s] == 1)) && echo ' (it ended by itself before the SIGKILL landed)'): $(client_error "$TMP/churn.$s.json" "$TMP/churn.$s.err")"
	fi
	SLOT_PID[s]=""
}
simple_args() { echo "simple-client $1"; }
client_error() { # JSON ERR: the client's own account of what went wrong
	local e m errs
	e=$(jstr "$1" first_error)
	m=$(jstr "$1" first_mismatch)
	errs=$(tr -d ' \n' <"$1" | grep -o '"errors":{[^}]*}' || true)
	echo "mismatches=$(jnum "$1" mismatches) $errs${e:+ first_error: $e}${m:+ first_mismatch: $m}$( [[ -s $2 ]] && echo " stderr: $(tail -c 400 "$2" | tr '\n' ' ')")"
}

# service_churn: reap ended runs, SIGKILL those whose time came, start new
# ones while the load lasts.
service_churn() {
	local s launch=$1
	tick
	for ((s = 0; s < CHURN_PARALLEL; s++)); do
		if [[ -n ${SLOT_PID[s]} ]]; then
			if alive "${SLOT_PID[s]}"; then
				if ((SLOT_KILL_AT[s] > 0 && NOW >= SLOT_KILL_AT[s])); then
					SLOT_KILLED[s]=1
					reap_churn "$s" KILL
				elif ((NOW - SLOT_START[s] > CHURN_DEADLINE * 1000)); then
					fail "churn run #${SLOT_RUN[s]} ($(simple_args "${SLOT_ARGS[s]}")) still running after ${CHURN_DEADLINE}s"
				else
					continue
				fi
			else
				reap_churn "$s"
			fi
		fi
		if ((launch)); then
			start_churn "$s"
		fi
	done
}

check_long() { # fails if the long-lived client ended badly; sets LONG_STATUS when it ended
	[[ -z $LONG_STATUS ]] || return 0
	alive "$LONG_PID" && return 0
	local st=0
	wait "$LONG_PID" || st=$?
	LONG_STATUS=$st
	if ((st != 0)); then
		fail "the long-lived client (simple-client -c $CONNS -pipeline $PIPELINE) exited with status $st at $(elapsed)s: $(client_error "$LONG_JSON" "$TMP/long.err")"
	fi
	if ((NOW < END - 1000)); then
		fail "the long-lived client exited (status 0) at $(elapsed)s, before the end of the run"
	fi
}

check_server() {
	alive "$SERVER_PID" && return 0
	local st=0
	wait "$SERVER_PID" || st=$?
	SERVER_PID=""
	fail "the server died at $(elapsed)s with status $st"
}

RSS_MIN="" RSS_MAX=0 FD_MIN="" FD_MAX_SEEN=0 G_MIN="" G_MAX=0 WARM_MAX=0 RSS_BOUND=""
POST_RSS_MIN="" POST_RSS_MAX=0
LAST_STAT_LINES=0 LAST_STAT_CHANGE=0 LAST_MSGS=-1 LAST_MSGS_CHANGE=0 SAMPLES=0

sample() { # phase: load|drain
	local rss g open acc msgs
	tick
	rss=$(rss_kb)
	count_fds
	read_stats
	g=$(sf goroutines) open=$(sf open) acc=$(sf accepted) msgs=$(sf msgs_in)
	SAMPLES=$((SAMPLES + 1))
	printf '[%6ss] rss=%6.1fMiB fds=%5d goroutines=%2d | open=%5d accepted=%8d msgs_in=%10d closed_peer=%d closed_error=%d | churn runs=%d ok=%d killed=%d\n' \
		"$(elapsed)" "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')" "$FDS" "$g" "$open" "$acc" "$msgs" \
		"$(sf closed_peer)" "$(sf closed_error)" "$CHURN_RUNS" "$CHURN_OK" "$CHURN_KILLED"
	[[ -n $RSS_MIN ]] && ((rss >= RSS_MIN)) || RSS_MIN=$rss
	((rss <= RSS_MAX)) || RSS_MAX=$rss
	[[ -n $FD_MIN ]] && ((FDS >= FD_MIN)) || FD_MIN=$FDS
	((FDS <= FD_MAX_SEEN)) || FD_MAX_SEEN=$FDS
	[[ -n $G_MIN ]] && ((g >= G_MIN)) || G_MIN=$g
	((g <= G_MAX)) || G_MAX=$g

	((FDS <= FD_MAX)) || fail "server fd count $FDS > bound $FD_MAX (baseline $BASE_FDS + $CONNS conns + $CHURN_MAX_OPEN churn + $FD_SLACK) at $(elapsed)s; stats: open=$open"
	((g >= 0)) || fail "no goroutine count in the stats line: $STAT"
	((g <= GOROUTINE_MAX)) || fail "server goroutines $g > bound $GOROUTINE_MAX ($LOOPS loops + $WORKERS workers + $GOROUTINE_SLACK) at $(elapsed)s"
	if ((NOW < WARM_END)); then
		((rss <= WARM_MAX)) || WARM_MAX=$rss
	else
		if [[ -z $RSS_BOUND ]]; then
			((WARM_MAX > 0)) || WARM_MAX=$rss
			RSS_BOUND=$((WARM_MAX * (100 + RSS_GROWTH_PCT) / 100 + RSS_GROWTH_ABS_KB))
			echo "soak: warm-up over: RSS max $((WARM_MAX / 1024)) MiB, bound from now on $((RSS_BOUND / 1024)) MiB"
		fi
		[[ -n $POST_RSS_MIN ]] && ((rss >= POST_RSS_MIN)) || POST_RSS_MIN=$rss
		((rss <= POST_RSS_MAX)) || POST_RSS_MAX=$rss
		((rss <= RSS_BOUND)) || fail "server RSS $((rss / 1024)) MiB > bound $((RSS_BOUND / 1024)) MiB (warm-up max $((WARM_MAX / 1024)) MiB * 1.$RSS_GROWTH_PCT + $((RSS_GROWTH_ABS_KB / 1024)) MiB) at $(elapsed)s"
	fi
	# The stats line must keep coming (the server is not wedged) ...
	if ((STAT_LINES != LAST_STAT_LINES)); then
		LAST_STAT_LINES=$STAT_LINES LAST_STAT_CHANGE=$NOW
	elif ((NOW - LAST_STAT_CHANGE > 10000)); then
		fail "no new stats line from the server for 10s at $(elapsed)s"
	fi
	# ... and, under load, requests must keep being served.
	if [[ $1 == load ]]; then
		if ((msgs != LAST_MSGS)); then
			LAST_MSGS=$msgs LAST_MSGS_CHANGE=$NOW
		elif ((NOW - LAST_MSGS_CHANGE > 15000)); then
			fail "server msgs_in stuck at $msgs for 15s under load at $(elapsed)s"
		fi
	fi
}

echo "soak: load started; one sample every ${SAMPLE_S}s"
tick
NEXT_SAMPLE=$NOW
LAST_MSGS_CHANGE=$NOW LAST_STAT_CHANGE=$NOW
while ((NOW < END)); do
	check_server
	check_long
	service_churn 1
	if ((NOW >= NEXT_SAMPLE)); then
		sample load
		NEXT_SAMPLE=$((NEXT_SAMPLE + SAMPLE_S * 1000))
	fi
	sleep 0.1
	tick
done

# Let the churn runs in flight finish (or be killed as planned) and the
# long-lived client drain and report; both bounded.
echo "soak: ${DUR_S}s of load done; waiting for the clients to finish"
WAIT_END=$((NOW + (CHURN_DEADLINE + 30) * 1000))
while :; do
	check_server
	check_long
	service_churn 0
	busy=0
	for ((s = 0; s < CHURN_PARALLEL; s++)); do [[ -z ${SLOT_PID[s]} ]] || busy=1; done
	[[ -z $LONG_STATUS ]] && busy=1
	((busy)) || break
	((NOW < WAIT_END)) || fail "clients still running $(((CHURN_DEADLINE + 30)))s after the end of the load"
	if ((NOW >= NEXT_SAMPLE)); then
		sample drain
		NEXT_SAMPLE=$((NEXT_SAMPLE + SAMPLE_S * 1000))
	fi
	sleep 0.1
	tick
done
LOAD_END=$NOW

LONG_REQS=$(jnum "$LONG_JSON" requests)
LONG_SENT=$(jnum "$LONG_JSON" sent)
LONG_CONNECTED=$(jnum "$LONG_JSON" connected)
LONG_RPS=$(jnum "$LONG_JSON" requests_per_s)
LONG_SECS=$(jnum "$LONG_JSON" duration_s)
[[ -n $LONG_REQS && -n $LONG_CONNECTED ]] || fail "no result from the long-lived client: $(head -c 400 "$LONG_JSON") $(head -c 400 "$TMP/long.err")"
((LONG_CONNECTED == CONNS)) || fail "the long-lived client connected $LONG_CONNECTED of $CONNS"
((LONG_REQS > 0 && LONG_REQS == LONG_SENT)) || fail "the long-lived client verified $LONG_REQS of $LONG_SENT requests sent"
[[ $(jnum "$LONG_JSON" mismatches) == 0 && $(jerrtotal "$LONG_JSON") == 0 ]] || fail "the long-lived client result is not clean: $(client_error "$LONG_JSON" "$TMP/long.err")"

# Drain: every connection closed on the server, fds back to the baseline.
echo "soak: clients done; waiting for the server to close every connection"
read_stats
DONE_LINES=$STAT_LINES
DRAIN_BY=$((NOW + DRAIN_DEADLINE * 1000))
drained=0
while ((NOW < DRAIN_BY)); do
	check_server
	sleep 1
	tick
	read_stats
	count_fds
	# a stats line written after the clients ended
	if [[ $(sf open) == 0 ]] && ((FDS <= BASE_FDS)) && ((STAT_LINES >= DONE_LINES + 2)); then
		drained=1
		break
	fi
done
((drained)) || fail "after the load, server still has open=$(sf open) connections and $FDS fds (baseline $BASE_FDS) after ${DRAIN_DEADLINE}s"

FINAL_STAT=$STAT
MSGS_IN=$(sf msgs_in)
VERIFIED=$((LONG_REQS + CHURN_REQS))
((MSGS_IN >= VERIFIED)) || fail "server counted msgs_in=$MSGS_IN, fewer than the $VERIFIED requests the clients verified"
bad=""
for k in closed_panic closed_protocol closed_slow_consumer closed_limit closed_idle closed_read_timeout closed_write_timeout; do
	v=$(sf "$k")
	[[ $v == 0 ]] || bad+=" $k=$v"
done
[[ -z $bad ]] || fail "unexpected server-side closes:$bad"
if grep -aE 'level=(WARN|ERROR)' "$SLOG" >"$TMP/warnings.log"; then
	fail "the server logged $(wc -l <"$TMP/warnings.log") WARN/ERROR line(s), first: $(head -n 1 "$TMP/warnings.log" | cut -c1-400)"
fi

# Graceful shutdown.
kill -TERM "$SERVER_PID"
tick
SHUT_START=$NOW
SHUT_BY=$((NOW + SHUTDOWN_DEADLINE * 1000))
while alive "$SERVER_PID" && ((NOW < SHUT_BY)); do
	sleep 0.1
	tick
done
if alive "$SERVER_PID"; then
	fail "the server did not exit within ${SHUTDOWN_DEADLINE}s of SIGTERM"
fi
st=0
wait "$SERVER_PID" || st=$?
SERVER_PID=""
((st == 0)) || fail "the server exited with status $st after SIGTERM"
grep -aq 'msg=stopped' "$SLOG" || fail "the server exited 0 without logging msg=stopped"
SHUT_MS=$((NOW - SHUT_START))

mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
sfinal() { STAT=$FINAL_STAT sf "$1"; }
cat <<EOF

=== soak PASSED ===
duration        ${DUR_S}s of load (every client ended at $(((LOAD_END - T0) / 1000))s), seed $SEED, $SAMPLES samples
long-lived      $CONNS conns, pipeline $PIPELINE: $LONG_REQS requests verified in ${LONG_SECS}s ($(printf '%.0f' "$LONG_RPS") req/s), 0 errors; latency p50 $(jlat "$LONG_JSON" p50) ms, p99 $(jlat "$LONG_JSON" p99) ms, max $(jlat "$LONG_JSON" max) ms
churn           $CHURN_RUNS runs: $CHURN_OK completed clean ($CHURN_REQS requests verified), $CHURN_KILLED SIGKILLed mid-run
server          accepted=$(sfinal accepted) msgs_in=$MSGS_IN closed_peer=$(sfinal closed_peer) closed_error=$(sfinal closed_error) closed_shutdown=$(sfinal closed_shutdown), 0 WARN/ERROR lines
RSS             min $(mib "$RSS_MIN") MiB, max $(mib "$RSS_MAX") MiB; warm-up max $(mib "$WARM_MAX") MiB, after warm-up $(mib "${POST_RSS_MIN:-0}")..$(mib "$POST_RSS_MAX") MiB (bound $(mib "${RSS_BOUND:-0}") MiB)
fds             min $FD_MIN, max $FD_MAX_SEEN (bound $FD_MAX), baseline $BASE_FDS, after drain $FDS
goroutines      min $G_MIN, max $G_MAX (bound $GOROUTINE_MAX)
shutdown        SIGTERM -> exit 0 in ${SHUT_MS} ms
EOF
exit 0
