#!/usr/bin/env bash
# bench/http.sh: the HTTP suite. Every HTTP server serving the plaintext
# contract of simple-server -proto http, scenarios h1-h6 in interleaved
# rounds, one JSON record per run in RESULTS_DIR (and a one-line summary
# of each on stderr).
#
#   bench/http.sh                                  # 3 rounds x 5 s, all
#   ROUNDS=1 DURATION=2s SCENARIOS="h1 h2" bench/http.sh
#
# Settings (environment variables):
#   ROUNDS      rounds per scenario (every server once per round)    3
#   DURATION    length of each run, whole seconds                    5s
#   SCENARIOS   any of h1 h2 h3 h4 h5 h6                             all
#   SERVERS     any of nethttp fasthttp nbhttp nginx fast compat     all
#               (fast: simple-server -proto http -workers 0, the Fast
#               API on the loop; compat: -workers 4, the same net/http
#               ServeMux as nethttp on the worker pool)
#   RATE        h6's offered req/s when h1 is not run                -
#   RESULTS_DIR where the records go (emptied!)        bench/results-http
#   REPORT      the file whose HTTP section is rewritten  bench/RESULTS.md
#
#   h1  wrk, GET /plaintext, 100 connections
#   h2  wrk, 256 connections, pipeline 16 (TechEmpower plaintext's shape)
#   h3  wrk, 1,000 connections
#   h4  simple-client, POST /echo 4 KiB bodies, 50 connections, every
#       byte verified (not nginx: it cannot echo without a module)
#   h5  simple-client, 10,000 connections answered once, then held:
#       server RSS growth per connection
#   h6  simple-client open loop at half of nethttp's median h1 req/s,
#       latency from each request's due time
#
# The server runs on CPU 0 (GOMAXPROCS=1, one loop or poller; nginx one
# worker), the load on CPU 1. A wrk run counts only with 0 socket errors
# and 0 non-2xx responses.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# shellcheck source=lib.sh
. "$here/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
SCENARIOS=${SCENARIOS:-h1 h2 h3 h4 h5 h6}
SERVERS=${SERVERS:-nethttp fasthttp nbhttp nginx fast compat}
RATE=${RATE:-}
DUR=${DURATION%s}
[[ $DUR =~ ^[1-9][0-9]*$ ]] || { echo "http.sh: DURATION must be whole seconds" >&2; exit 2; }
for tool in go wrk nginx taskset timeout ss; do
	command -v "$tool" >/dev/null || { echo "http.sh: $tool is required (apt-get install -y wrk nginx-light)" >&2; exit 2; }
done

OUT=$here/out/http
RES=${RESULTS_DIR:-$here/results-http}
LOGS=$OUT/logs
mkdir -p "$OUT" "$RES" "$LOGS" "$OUT/nginx"
rm -f "$RES"/*.json

log "building into $OUT"
go build -o "$OUT/" ./servers/nethttp ./servers/fasthttp ./servers/nbhttp ./report
(cd .. && go build -o "$OUT/" ./cmd/simple-server ./cmd/simple-client)

# server_argv name: sets ARGV to the command that starts server name on
# CPU 0, with __PORT__ where its port goes.
server_argv() {
	local go=(taskset -c 0 env GOMAXPROCS=1)
	case $1 in
	nethttp | fasthttp | nbhttp) ARGV=("${go[@]}" "$OUT/$1" -addr 127.0.0.1:__PORT__) ;;
	fast) ARGV=("${go[@]}" "$OUT/simple-server" -proto http -loops 1 -workers 0 -addr 127.0.0.1:__PORT__) ;;
	compat) ARGV=("${go[@]}" "$OUT/simple-server" -proto http -loops 1 -workers 4 -addr 127.0.0.1:__PORT__) ;;
	nginx)
		# The port is only known inside launch: a wrapper writes the
		# config, then execs nginx (so SERVER_PID is nginx's master).
		ARGV=(sh -c 'sed -e "s/__ADDR__/127.0.0.1:$1/" -e "s#__PREFIX__#$2#" "$3" >"$2/nginx.conf" && exec taskset -c 0 nginx -p "$2" -c "$2/nginx.conf"' \
			sh __PORT__ "$OUT/nginx" "$here/servers/nginx/nginx.conf") ;;
	esac
}

start_server() { # name logfile: sets SERVER_PID and PORT
	server_argv "$1"
	launch "$1" "$2" "${ARGV[@]}"
}

# wrk_client args...: runs wrk on CPU 1 and prints its result as the part
# of a simple-client JSON result the report reads; the load tool's CPU is
# CPU 1's busy share over the run.
wrk_client() {
	local r s0 s1 n rps secs errs
	s0=$(sys_ticks)
	r=$(timeout -k 5 $((DUR + 60)) taskset -c 1 wrk -t1 "$@") || CODE=$?
	s1=$(sys_ticks)
	echo "$r" >>"$LOGS/wrk.txt"
	n=$(awk '/ requests in / {print $1}' <<<"$r")
	secs=$(awk '/ requests in / {sub(/s,$/, "", $4); print $4}' <<<"$r")
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$r")
	errs=$(awk '/Socket errors:/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10} /Non-2xx/ {e += $NF} END {print e + 0}' <<<"$r")
	awk -v a="$s0" -v b="$s1" -v n="${n:-0}" -v rps="${rps:-0}" -v secs="${secs:-0}" -v errs="$errs" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		pct = (y[6] - x[6]) > 0 ? 100 * (y[5] - x[5]) / (y[6] - x[6]) : 0
		printf "{\"requests\":%d,\"sent\":%d,\"requests_per_s\":%s,\"duration_s\":%s,\"errors\":{\"total\":%d},", n, n, rps, secs, errs
		printf "\"client_cpu\":{\"run_pct\":%.1f,\"run_s\":%.3f},\"ok\":%s}\n", pct, pct * secs / 100, (n > 0 && errs == 0) ? "true" : "false"
	}'
}

one_run() { # scenario server round
	local scen=$1 name=$2 round=$3 tag="$1-$2-r$3" url cmd=() cj=null
	local logf=$LOGS/$tag.server.log cjson=$OUT/$tag.client.json cerr=$LOGS/$tag.client.log
	[ "$scen" = h4 ] && [ "$name" = nginx ] && return 0
	start_server "$name" "$logf" || return 0
	sleep 0.2
	url=http://127.0.0.1:$PORT/plaintext
	local sc=(timeout -k 5 $((DUR + 180)) taskset -c 1 "$OUT/simple-client" -proto http -addr "127.0.0.1:$PORT" -json -q -d "${DUR}s")
	measure_begin
	RSS1=null CODE=0
	case $scen in
	h1) cmd=(-c100 -d"${DUR}s" "$url") ;;
	h2) cmd=(-c256 -d"${DUR}s" -s "$here/pipeline.lua" "$url" -- 16) ;;
	h3) cmd=(-c1000 -d"${DUR}s" "$url") ;;
	h4) cmd=("${sc[@]}" -c 50 -size 4096) ;;
	h5) cmd=("${sc[@]}" -c 10000 -hold) ;;
	h6) cmd=("${sc[@]}" -c 100 -pipeline 8 -rate "$RATE") ;;
	esac
	case $scen in
	h1 | h2 | h3) wrk_client "${cmd[@]}" >"$cjson" ;;
	h5) held_client "$cerr" "${cmd[@]}" >"$cjson" ;;
	*) "${cmd[@]}" >"$cjson" 2>"$cerr" || CODE=$? ;;
	esac
	measure_end
	stop_server
	"$OUT/report" -valid "$cjson" 2>/dev/null && cj=$(cat "$cjson")
	case $scen in h1 | h2 | h3) cmd=(taskset -c 1 wrk -t1 "${cmd[@]}") ;; esac
	write_record "$RES/$tag.json" "$scen" "$name" "$round" "$DUR" "$(shown "${ARGV[@]}")" "$(shown "${cmd[@]}")" "$cj"
	log "  $tag: $("$OUT/report" -summary "$RES/$tag.json" 2>&1 || true)"
}

{
	machine_notes
	echo "rounds=$ROUNDS"
	echo "duration_s=$DUR"
	echo "servers=$SERVERS"
	echo "scenarios=$SCENARIOS"
	echo "command=ROUNDS=$ROUNDS DURATION=${DUR}s SCENARIOS='$SCENARIOS' SERVERS='$SERVERS' bench/http.sh"
	for name in $SERVERS; do
		server_argv "$name"
		echo "server_$name=$(shown "${ARGV[@]}")"
	done
} >"$RES/machine.txt"

servers=($SERVERS)
for scen in $SCENARIOS; do
	if [ "$scen" = h6 ] && [ -z "$RATE" ]; then
		RATE=$(cat "$RES"/h1-nethttp-r*.json 2>/dev/null | awk -F'"requests_per_s":' 'NF > 1 {split($2, a, ","); print a[1]}' | sort -n | awk '{v[NR] = $1} END {if (NR) printf "%d\n", v[int((NR + 1) / 2)] / 2}')
		[ -n "$RATE" ] || { echo "http.sh: h6 needs h1 with nethttp in the same run, or RATE=..." >&2; exit 2; }
		echo "rate_h6=$RATE" >>"$RES/machine.txt"
	fi
	log "scenario $scen"
	for round in $(seq 1 "$ROUNDS"); do
		for i in $(seq 0 $((${#servers[@]} - 1))); do
			one_run "$scen" "${servers[$(((i + round - 1) % ${#servers[@]}))]}" "$round"
		done
	done
done
echo "end=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >>"$RES/machine.txt"
"$OUT/report" -http "$RES" -out "${REPORT:-$here/RESULTS.md}"
log "records in $RES/, tables in ${REPORT:-$here/RESULTS.md}"
