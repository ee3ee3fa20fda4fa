#!/usr/bin/env bash
# A quick HTTP comparison ahead of the full HTTP suite: net/http serving
# protocol/plaintext's ServeMux, simple-server -proto http through that same
# ServeMux on workers (-workers 8), and through the Fast API (-workers 0).
# Each server on CPU 0 with GOMAXPROCS=1 (and one loop), the load on CPU 1;
# wrk and simple-client, pipeline 1 and 16, 100 connections; rounds
# interleaved. Prints one line per run and, at the end, medians with
# ratios to net/http paired per round. Server CPU per request is from
# /proc/<pid>/stat (utime+stime, 10 ms ticks).
#
#   bench/http_quick.sh              # 3 rounds x 5 s
#   ROUNDS=1 DURATION=2s bench/http_quick.sh
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
out=out/http_quick
mkdir -p "$out"
go build -o "$out/nethttp" ./servers/nethttp
(cd .. && go build -o bench/$out/simple-server ./cmd/simple-server && go build -o bench/$out/simple-client ./cmd/simple-client)

GOMAXPROCS=1 taskset -c 0 "$out/nethttp" -addr 127.0.0.1:18100 & NETHTTP=$!
GOMAXPROCS=1 taskset -c 0 "$out/simple-server" -proto http -workers 8 -loops 1 -addr 127.0.0.1:18101 2>/dev/null & COMPAT=$!
GOMAXPROCS=1 taskset -c 0 "$out/simple-server" -proto http -loops 1 -addr 127.0.0.1:18102 2>/dev/null & FAST=$!
trap 'kill $NETHTTP $COMPAT $FAST 2>/dev/null' EXIT
sleep 1
declare -A PID=([nethttp]=$NETHTTP [compat]=$COMPAT [fast]=$FAST)
declare -A PORT=([nethttp]=18100 [compat]=18101 [fast]=18102)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
log="$out/runs.txt"
: > "$log"
for round in $(seq "$ROUNDS"); do
  for tool in wrk simple-client; do
    for p in 1 16; do
      for s in nethttp compat fast; do
        url=http://127.0.0.1:${PORT[$s]}/plaintext
        t0=$(ticks "${PID[$s]}")
        if [ $tool = wrk ]; then
          if [ $p = 1 ]; then r=$(taskset -c 1 wrk -t1 -c100 -d"$DURATION" "$url")
          else r=$(taskset -c 1 wrk -t1 -c100 -d"$DURATION" -s pipeline.lua "$url" -- 16); fi
          rps=$(awk '/Requests\/sec/ {print $2}' <<<"$r")
          n=$(awk '/requests in/ {print $1}' <<<"$r")
          ok=$(grep -qE 'Socket errors|Non-2xx' <<<"$r" && echo false || echo true)
        else
          r=$(taskset -c 1 "$out/simple-client" -proto http -addr "127.0.0.1:${PORT[$s]}" -c 100 -pipeline $p -d "$DURATION" -json -q || true)
          read -r rps n ok < <(python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["requests_per_s"]), d["requests"], str(d["ok"]).lower())' <<<"$r")
        fi
        t1=$(ticks "${PID[$s]}")
        us=$(python3 -c "print(round(($t1-$t0)*10000/max($n,1),2))")
        echo "round=$round tool=$tool pipeline=$p server=$s rps=$rps cpu_us_per_req=$us ok=$ok" | tee -a "$log"
      done
    done
  done
done
python3 - "$log" <<'PY'
import collections, re, statistics as st, sys
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    m = dict(re.findall(r'(\w+)=(\S+)', line))
    if m['ok'] != 'true':
        print('not counted (errors):', line.strip()); continue
    runs[(m['tool'], m['pipeline'], m['server'])][m['round']] = (float(m['rps']), float(m['cpu_us_per_req']))
print('\nmedians; ratios to net/http paired per round')
for tool in ('wrk', 'simple-client'):
    for p in ('1', '16'):
        base = runs[(tool, p, 'nethttp')]
        cells = []
        for s in ('nethttp', 'compat', 'fast'):
            v = runs[(tool, p, s)]
            rounds = [r for r in v if r in base]
            if not rounds:
                continue
            cells.append('%s %.0fk req/s (%.2fx) %.1f us/req (%.2fx)' % (s,
                st.median(x[0] for x in v.values()) / 1000, st.median(v[r][0] / base[r][0] for r in rounds),
                st.median(x[1] for x in v.values()), st.median(v[r][1] / base[r][1] for r in rounds)))
        print('%-13s pipeline %-2s  %s' % (tool, p, ' | '.join(cells)))
PY
