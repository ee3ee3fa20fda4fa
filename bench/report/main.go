// Command report turns the records bench/run.sh writes into bench/results
// into bench/RESULTS.md (and those of bench/http.sh and bench/relay.sh into
// their sections of it), and answers the runners' small questions on the
// way.
//
//	report -results bench/results -out bench/RESULTS.md     # the tables
//	report -http bench/results-http -out bench/RESULTS.md   # the HTTP section
//	report -relay bench/results-relay -out bench/RESULTS.md # the relay section
//	report -summary bench/results/a-gnet-r1.json            # one line about one run
//	report -rate-from bench/results -servers "c net ..."    # scenario f's rate
//	report -valid client.json                               # exit 0 if it is a client result
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Latency mirrors simple-client's latency_us object.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Client is the part of simple-client's -json result the report uses.
type Client struct {
	Connections    int      `json:"connections"`
	Connected      int      `json:"connected"`
	Pipeline       int      `json:"pipeline"`
	Sent           float64  `json:"sent"`
	Requests       float64  `json:"requests"`
	Mismatches     float64  `json:"mismatches"`
	DurationSec    float64  `json:"duration_s"`
	RequestsPerSec float64  `json:"requests_per_s"`
	Latency        Latency  `json:"latency_us"`
	OfferedRate    float64  `json:"offered_rate_per_s"`
	SendLag        *Latency `json:"send_lag_us"`
	Held           int      `json:"held"`
	Errors         struct {
		Total int `json:"total"`
	} `json:"errors"`
	FirstError string `json:"first_error"`
	ClientCPU  struct {
		TotalSec   float64 `json:"total_s"`
		RunSec     float64 `json:"run_s"`
		RunPercent float64 `json:"run_pct"`
	} `json:"client_cpu"`
	OK bool `json:"ok"`
}

// Record is one run, as run.sh writes it.
type Record struct {
	Scenario      string   `json:"scenario"`
	Server        string   `json:"server"`
	Round         int      `json:"round"`
	DurationS     float64  `json:"duration_s"`
	ServerCommand string   `json:"server_command"`
	ClientCommand string   `json:"client_command"`
	ClkTck        float64  `json:"clk_tck"`
	ServerTicks   float64  `json:"server_cpu_ticks"`
	RSSBeforeKB   *float64 `json:"server_rss_before_kb"`
	RSSHeldKB     *float64 `json:"server_rss_held_kb"`
	MachineBusy   float64  `json:"machine_busy_ticks"`
	MachineTotal  float64  `json:"machine_total_ticks"`
	CPU0Busy      float64  `json:"cpu0_busy_ticks"`
	CPU0Total     float64  `json:"cpu0_total_ticks"`
	CPU1Busy      float64  `json:"cpu1_busy_ticks"`
	CPU1Total     float64  `json:"cpu1_total_ticks"`
	LoadAvg       float64  `json:"loadavg_after"`
	ClientExit    int      `json:"client_exit"`
	Client        *Client  `json:"client"`

	// Relay runs (bench/relay.sh): the server is the proxy; these are
	// its upstream's command and CPU ticks over the run, and the proxy's
	// RSS half way through the run and at its peak (VmHWM).
	UpstreamCommand string   `json:"upstream_command"`
	UpstreamTicks   float64  `json:"upstream_cpu_ticks"`
	RSSRunKB        *float64 `json:"server_rss_run_kb"`
	RSSPeakKB       *float64 `json:"server_rss_peak_kb"`

	// Syscall-count runs.
	Syscalls     string `json:"syscalls"` // "strace" or "perf"
	TraceFile    string `json:"trace_file"`
	TraceCommand string `json:"trace_command"`

	file string
}

func (r *Record) ok() bool {
	return r.Client != nil && r.ClientExit == 0 && r.Client.OK
}

func (r *Record) reqPerSec() float64 {
	if r.Client == nil {
		return math.NaN()
	}
	return r.Client.RequestsPerSec
}

// serverCPUUsPerReq is the server's CPU time per reply, in µs.
func (r *Record) serverCPUUsPerReq() float64 {
	if r.Client == nil || r.Client.Requests == 0 || r.ClkTck == 0 {
		return math.NaN()
	}
	return r.ServerTicks / r.ClkTck * 1e6 / r.Client.Requests
}

// serverCPUPct is the server's CPU time as a share of one core over the
// client's measured run.
func (r *Record) serverCPUPct() float64 {
	if r.Client == nil || r.Client.DurationSec == 0 || r.ClkTck == 0 {
		return math.NaN()
	}
	return 100 * r.ServerTicks / r.ClkTck / r.Client.DurationSec
}

func (r *Record) clientCPUPct() float64 {
	if r.Client == nil {
		return math.NaN()
	}
	return r.Client.ClientCPU.RunPercent
}

// otherPct is what the rest of the machine used while the run lasted, in
// % of one core: all CPUs' busy time minus the server's and the client's.
// It covers the kernel's network work not charged to either process and
// any other process: a noisy neighbour shows up here.
func (r *Record) otherPct() float64 {
	if r.Client == nil || r.ClkTck == 0 || r.MachineTotal == 0 {
		return math.NaN()
	}
	// Ticks per second over all CPUs tell the interval's length.
	cpus := r.MachineTotal / math.Max(r.CPU0Total, 1)
	wall := r.MachineTotal / r.ClkTck / cpus
	other := r.MachineBusy/r.ClkTck - r.ServerTicks/r.ClkTck - r.Client.ClientCPU.RunSec
	return math.Max(0, 100*other/wall)
}

// growthPerConn is scenario e's server RSS growth per held connection, in
// bytes.
func (r *Record) growthPerConn() float64 {
	if r.Client == nil || r.Client.Held == 0 || r.RSSBeforeKB == nil || r.RSSHeldKB == nil {
		return math.NaN()
	}
	return (*r.RSSHeldKB - *r.RSSBeforeKB) * 1024 / float64(r.Client.Held)
}

func (r *Record) p99() float64 {
	if r.Client == nil {
		return math.NaN()
	}
	return r.Client.Latency.P99
}

func (r *Record) problems() int {
	if r.Client == nil {
		return 1
	}
	n := r.Client.Errors.Total + int(r.Client.Mismatches)
	if n == 0 && (r.ClientExit != 0 || !r.Client.OK) {
		n = 1
	}
	return n
}

func readRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.file = path
	return &r, nil
}

func readAll(dir string) ([]*Record, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var recs []*Record
	for _, p := range paths {
		r, err := readRecord(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "report: skipping %v\n", err)
			continue
		}
		if r.Scenario == "" || r.Server == "" {
			continue
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// readSome is readAll for a report: no records is an error.
func readSome(dir string) ([]*Record, error) {
	recs, err := readAll(dir)
	if err == nil && len(recs) == 0 {
		err = fmt.Errorf("no records in %s", dir)
	}
	return recs, err
}

func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func minMax(xs []float64) (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	for _, x := range xs {
		if math.IsNaN(x) {
			continue
		}
		if math.IsNaN(lo) || x < lo {
			lo = x
		}
		if math.IsNaN(hi) || x > hi {
			hi = x
		}
	}
	return lo, hi
}

// thousands formats x rounded to an integer with thin separators.
func thousands(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func f1(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

func f2(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// us formats a latency in µs with a unit that suits it.
func us(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case x < 1000:
		return fmt.Sprintf("%.0f µs", x)
	case x < 1e6:
		return fmt.Sprintf("%.2f ms", x/1e3)
	default:
		return fmt.Sprintf("%.2f s", x/1e6)
	}
}

// serverOrder is the order of rows: the reference, ours (on epoll, then
// on the portable engine), then the peers.
var serverOrder = []string{"c", "simpleserver", "portable", "net", "gnet", "netpoll", "nbio", "evio"}

var serverLabel = map[string]string{
	"c":            "C reference (epoll)",
	"simpleserver": "**simpleserver**",
	"portable":     "simpleserver (portable engine)",
	"net":          "Go net",
	"gnet":         "gnet v2.9.7",
	"netpoll":      "netpoll v0.7.2",
	"nbio":         "nbio v1.6.8",
	"evio":         "evio v1.0.8",
}

// peers are the other libraries. portable is simpleserver itself (built
// with -tags simpleserver_portable), so it is no peer: it never sets the
// best peer's throughput that scenario f's rate is taken from.
var peers = []string{"net", "gnet", "netpoll", "nbio", "evio"}

func orderServers(names map[string]bool) []string {
	var out []string
	for _, s := range serverOrder {
		if names[s] {
			out = append(out, s)
		}
	}
	var rest []string
	for s := range names {
		if !slices.Contains(serverOrder, s) {
			rest = append(rest, s)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// group is the runs of one server in one scenario, by round.
type group struct {
	server string
	runs   []*Record
}

func (g *group) values(f func(*Record) float64) []float64 {
	var v []float64
	for _, r := range g.runs {
		v = append(v, f(r))
	}
	return v
}

func (g *group) problems() int {
	n := 0
	for _, r := range g.runs {
		n += r.problems()
	}
	return n
}

func groups(recs []*Record, scenario string, syscalls bool) []*group {
	by := map[string]*group{}
	names := map[string]bool{}
	for _, r := range recs {
		if r.Scenario != scenario || (r.Syscalls != "") != syscalls {
			continue
		}
		g := by[r.Server]
		if g == nil {
			g = &group{server: r.Server}
			by[r.Server] = g
		}
		g.runs = append(g.runs, r)
		names[r.Server] = true
	}
	var out []*group
	for _, s := range orderServers(names) {
		g := by[s]
		sort.Slice(g.runs, func(i, j int) bool { return g.runs[i].Round < g.runs[j].Round })
		out = append(out, g)
	}
	return out
}

// pairedRatio is the median over rounds of this server's value divided by
// the C reference's value in the same round.
func pairedRatio(g *group, ref *group, f func(*Record) float64) float64 {
	if ref == nil {
		return math.NaN()
	}
	byRound := map[int]float64{}
	for _, r := range ref.runs {
		byRound[r.Round] = f(r)
	}
	var ratios []float64
	for _, r := range g.runs {
		if c, ok := byRound[r.Round]; ok && c > 0 {
			ratios = append(ratios, f(r)/c)
		}
	}
	return median(ratios)
}

func find(gs []*group, server string) *group {
	for _, g := range gs {
		if g.server == server {
			return g
		}
	}
	return nil
}

// bestPeerMedian is the highest median req/s of scenario a among the Go
// peers present (all servers if no peer ran), and whose it is.
func bestPeerMedian(recs []*Record, servers []string) (float64, string) {
	gs := groups(recs, "a", false)
	best, who := math.NaN(), ""
	consider := func(onlyPeers bool) {
		for _, g := range gs {
			if len(servers) > 0 && !slices.Contains(servers, g.server) {
				continue
			}
			if onlyPeers && !slices.Contains(peers, g.server) {
				continue
			}
			m := median(g.values((*Record).reqPerSec))
			if !math.IsNaN(m) && (math.IsNaN(best) || m > best) {
				best, who = m, g.server
			}
		}
	}
	consider(true)
	if math.IsNaN(best) {
		consider(false)
	}
	return best, who
}

// ---------------------------------------------------------------- syscalls

// syscallCounts reads a strace -c or perf stat -x, output into counts per
// syscall name (perf: the tracepoint's syscall; "total" for all).
func syscallCounts(kind, path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counts := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch kind {
		case "strace":
			// % time  seconds  usecs/call  calls  [errors]  syscall
			fs := strings.Fields(line)
			if len(fs) < 5 || strings.HasPrefix(line, "%") || strings.HasPrefix(line, "-") {
				continue
			}
			n, err := strconv.ParseFloat(fs[3], 64)
			if err != nil {
				continue
			}
			counts[fs[len(fs)-1]] += n
		case "perf":
			// count,unit,event,...
			fs := strings.Split(line, ",")
			if len(fs) < 3 || strings.HasPrefix(line, "#") {
				continue
			}
			n, err := strconv.ParseFloat(fs[0], 64)
			if err != nil {
				continue // "<not counted>", "<not supported>"
			}
			ev := fs[2]
			switch {
			case ev == "raw_syscalls:sys_enter":
				counts["total"] += n
			case strings.HasPrefix(ev, "syscalls:sys_enter_"):
				counts[strings.TrimPrefix(ev, "syscalls:sys_enter_")] += n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if kind == "strace" {
		if _, ok := counts["total"]; !ok {
			var t float64
			for _, n := range counts {
				t += n
			}
			counts["total"] = t
		}
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("%s: no syscall counts found", path)
	}
	return counts, nil
}

type syscallRow struct {
	requests                       float64
	read, write, wait, ctl, total  float64
	futex, nanosleep, otherSyscall float64
}

func syscallsPerRequest(r *Record, dir string) (syscallRow, error) {
	var row syscallRow
	if r.Client == nil || r.Client.Requests == 0 {
		return row, errors.New("no client result")
	}
	c, err := syscallCounts(r.Syscalls, filepath.Join(dir, r.TraceFile))
	if err != nil {
		return row, err
	}
	n := r.Client.Requests
	row.requests = n
	row.read = (c["read"] + c["readv"] + c["recvfrom"]) / n
	row.write = (c["write"] + c["writev"] + c["sendto"] + c["sendmsg"]) / n
	row.wait = (c["epoll_wait"] + c["epoll_pwait"] + c["epoll_pwait2"]) / n
	row.ctl = c["epoll_ctl"] / n
	row.futex = c["futex"] / n
	row.nanosleep = c["nanosleep"] / n
	row.total = c["total"] / n
	row.otherSyscall = row.total - row.read - row.write - row.wait - row.ctl
	return row, nil
}

// ---------------------------------------------------------------- modes

func summary(path string) (string, error) {
	r, err := readRecord(path)
	if err != nil {
		return "", err
	}
	if r.Client == nil {
		return fmt.Sprintf("no client result (exit %d)", r.ClientExit), nil
	}
	c := r.Client
	status := "ok"
	if !r.ok() {
		status = fmt.Sprintf("PROBLEMS: exit %d, %d errors, %.0f mismatches %s", r.ClientExit, c.Errors.Total, c.Mismatches, c.FirstError)
	}
	if r.Syscalls != "" {
		row, err := syscallsPerRequest(r, filepath.Dir(path))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%.0f req/s under %s; per request: read %.3f write %.3f epoll_wait %.3f epoll_ctl %.3f all %.3f; %s",
			c.RequestsPerSec, r.Syscalls, row.read, row.write, row.wait, row.ctl, row.total, status), nil
	}
	if r.UpstreamCommand != "" {
		return fmt.Sprintf("%.0f req/s, proxy %.2f µs/req (%.0f%% CPU), upstream %.2f µs/req, CPU 1 %.0f%%, p99 %s; %s",
			c.RequestsPerSec, r.serverCPUUsPerReq(), r.serverCPUPct(), r.upstreamCPUUsPerReq(), r.cpu1Pct(), us(c.Latency.P99), status), nil
	}
	switch r.Scenario {
	case "e", "h5":
		if r.RSSBeforeKB == nil || r.RSSHeldKB == nil || c.Held == 0 {
			return fmt.Sprintf("held %d, no RSS sample; %s", c.Held, status), nil
		}
		per := (*r.RSSHeldKB - *r.RSSBeforeKB) * 1024 / float64(c.Held)
		return fmt.Sprintf("held %d, RSS %.1f -> %.1f MiB = %.0f B/conn; %s", c.Held, *r.RSSBeforeKB/1024, *r.RSSHeldKB/1024, per, status), nil
	case "f", "h6":
		return fmt.Sprintf("%.0f of %.0f req/s, p50 %s p99 %s p99.9 %s, send lag p99 %s, client %.0f%%; %s",
			c.RequestsPerSec, c.OfferedRate, us(c.Latency.P50), us(c.Latency.P99), us(c.Latency.P999),
			us(lagP99(c)), r.clientCPUPct(), status), nil
	}
	return fmt.Sprintf("%.0f req/s, server %.2f µs/req (%.0f%% CPU), client %.0f%% CPU, rest of machine %.0f%%; %s",
		c.RequestsPerSec, r.serverCPUUsPerReq(), r.serverCPUPct(), r.clientCPUPct(), r.otherPct(), status), nil
}

// lat turns a percentile of the client's latency into a Record's value.
func lat(f func(Latency) float64) func(*Record) float64 {
	return func(r *Record) float64 {
		if r.Client == nil {
			return math.NaN()
		}
		return f(r.Client.Latency)
	}
}

func (r *Record) sendLagP99() float64 {
	if r.Client == nil {
		return math.NaN()
	}
	return lagP99(r.Client)
}

// held is one server's row of an idle-memory scenario ((e), (h5)): medians
// over rounds of its RSS before and while holding, of the growth per
// connection (and its range) and of the connections held.
type held struct {
	beforeMiB, heldMiB, perConn, lo, hi, conns float64
}

func heldOf(g *group) held {
	v := g.values((*Record).growthPerConn)
	h := held{perConn: median(v)}
	h.lo, h.hi = minMax(v)
	h.beforeMiB = median(g.values(func(r *Record) float64 { return ptr(r.RSSBeforeKB) / 1024 }))
	h.heldMiB = median(g.values(func(r *Record) float64 { return ptr(r.RSSHeldKB) / 1024 }))
	h.conns = median(g.values(func(r *Record) float64 {
		if r.Client == nil {
			return math.NaN()
		}
		return float64(r.Client.Held)
	}))
	return h
}

func lagP99(c *Client) float64 {
	if c.SendLag == nil {
		return math.NaN()
	}
	return c.SendLag.P99
}

func main() {
	var (
		results  = flag.String("results", "", "directory of run records: write the report")
		httpRes  = flag.String("http", "", "directory of bench/http.sh's records: write the HTTP section of the report")
		relayRes = flag.String("relay", "", "directory of bench/relay.sh's records: write the relay section of the report")
		out      = flag.String("out", "RESULTS.md", "report file (with -results, -http or -relay)")
		sum      = flag.String("summary", "", "print a one-line summary of this run record")
		rateFrom = flag.String("rate-from", "", "print scenario f's rate (half the best peer's median req/s in scenario a) from this directory")
		servers  = flag.String("servers", "", "with -rate-from: the servers of this run")
		valid    = flag.String("valid", "", "exit 0 if this file is a simple-client JSON result")
	)
	flag.Parse()
	switch {
	case *valid != "":
		b, err := os.ReadFile(*valid)
		var c map[string]any
		if err != nil || json.Unmarshal(b, &c) != nil || c["requests"] == nil {
			os.Exit(1)
		}
	case *sum != "":
		s, err := summary(*sum)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		fmt.Println(s)
	case *rateFrom != "":
		recs, err := readAll(*rateFrom)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		best, _ := bestPeerMedian(recs, strings.Fields(*servers))
		if math.IsNaN(best) || best <= 0 {
			fmt.Fprintln(os.Stderr, "report: no scenario a results to take the rate from")
			os.Exit(1)
		}
		fmt.Println(int64(math.Round(best / 2)))
	case *httpRes != "":
		if err := writeHTTPReport(*httpRes, *out); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	case *relayRes != "":
		if err := writeSection(*relayRes, *out, relayBegin, relayEnd, renderRelay); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	case *results != "":
		if err := writeReport(*results, *out); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// machine reads run.sh's key=value notes.
func machine(dir string) map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile(filepath.Join(dir, "machine.txt"))
	if err != nil {
		return m
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

var titles = map[string]string{
	"a": "(a) hello, 100 connections, pipeline 1, 64-byte payload",
	"b": "(b) hello, 1,000 connections, pipeline 1, 64-byte payload",
	"c": "(c) hello, 100 connections, pipeline 16, 64-byte payload",
	"d": "(d) echo, 50 connections, 4 KiB messages, pipeline 1",
	"e": "(e) idle memory: 10,000 connections, each answered once and then held",
	"f": "(f) latency at a fixed offered rate",
}

func writeReport(dir, outPath string) error {
	recs, err := readSome(dir)
	if err != nil {
		return err
	}
	m := machine(dir)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	w("# Benchmark results\n\n")
	w("Generated by `%s`, started %s, ended %s. Raw records: `bench/results/*.json` (one per run, with the client's full JSON result); server and client logs: `bench/out/logs/`.\n\n", m["command"], m["date"], m["end"])
	w("## Machine\n\n")
	w("| | |\n|---|---|\n")
	w("| CPUs (`nproc`) | %s |\n| CPU model | %s |\n| kernel | %s |\n| Go | %s |\n| C compiler | %s |\n", m["nproc"], m["cpu"], m["kernel"], m["go"], m["gcc"])
	w("| load average at start / end | %s / %s |\n\n", m["loadavg_start"], m["loadavg_end"])

	w("## Method\n\n")
	w("- Every server serves one core: it runs on CPU 0 (`taskset -c 0`; Go servers with `GOMAXPROCS=1`, one event loop) and the load generator, `simple-client`, on CPU 1 (`taskset -c 1`, so `GOMAXPROCS` is 1 there too). Load is on 127.0.0.1 only; each run gets a fresh free port.\n")
	w("- Rounds are interleaved: round 1 runs every server once, then round 2, and so on (%s rounds of %s s per scenario; each round starts one server further down the list). Tables give the median over rounds and the range (min–max).\n", m["rounds"], m["duration_s"])
	w("- **× C** is paired: each round's req/s divided by the C reference's req/s in the same round, then the median of those ratios, so drift of the machine between rounds cancels out. **µs/req × C** is the same for server CPU time per request (above 1: costlier than C).\n")
	w("- **server µs/req** is the server process's CPU time (utime+stime of all its threads, `/proc/<pid>/stat`, read before and after the run; 1/%s s resolution) divided by the replies the client verified. It includes accepting and closing the connections. **server CPU** is the same time as a share of one core over the run: near 100%% the server is the bottleneck; well below, something else is (the client, or the wake-ups between the two).\n", m["clk_tck"])
	w("- **client CPU** is `simple-client`'s own CPU time (getrusage) during the measured run, as a share of its one core: near 100%% means the load generator, not the server, set the pace, and req/s then understates the faster servers — compare them by server µs/req instead.\n")
	w("- **rest** is the CPU the rest of the machine used meanwhile (all CPUs' busy time from `/proc/stat` minus server and client), in %% of one core: kernel network work not charged to either process, plus any other process. A high value marks a noisy run.\n")
	w("- Every reply is verified byte for byte by the client; **errors** counts connection errors, mismatches and failed runs over all rounds (0 expected).\n\n")

	w("Commands (port chosen per run):\n\n```sh\n")
	if v, ok := m["build_portable"]; ok {
		w("# portable is servers/simpleserver built with: %s\n", v)
	}
	for _, s := range serverOrder {
		if v, ok := m["server_"+s]; ok {
			w("%s\n", v)
		}
	}
	w("\n")
	for _, s := range []string{"a", "b", "c", "d", "e", "f"} {
		if v, ok := m["client_"+s]; ok {
			w("# %s\n%s\n", s, v)
		}
	}
	w("```\n\n")

	var notes []string
	for _, scen := range []string{"a", "b", "c", "d"} {
		gs := groups(recs, scen, false)
		if len(gs) == 0 {
			continue
		}
		ref := find(gs, "c")
		var saturated []string
		w("## %s\n\n", titles[scen])
		w("| server | req/s (median) | range | × C | server µs/req | µs/req × C | server CPU | client CPU | rest | errors |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, g := range gs {
			rps := g.values((*Record).reqPerSec)
			lo, hi := minMax(rps)
			ratio := pairedRatio(g, ref, (*Record).reqPerSec)
			w("| %s | %s | %s – %s | %s | %s | %s | %s%% | %s%% | %s%% | %d |\n",
				serverLabel[g.server]+fallback(g.server), thousands(median(rps)), thousands(lo), thousands(hi),
				f2(ratio), f2(median(g.values((*Record).serverCPUUsPerReq))),
				f2(pairedRatio(g, ref, (*Record).serverCPUUsPerReq)),
				f1(median(g.values((*Record).serverCPUPct))), f1(median(g.values((*Record).clientCPUPct))),
				f1(median(g.values((*Record).otherPct))), g.problems())
			if c := median(g.values((*Record).clientCPUPct)); c >= 90 {
				saturated = append(saturated, fmt.Sprintf("%s %.0f%%", g.server, c))
			}
		}
		w("\n")
		if len(saturated) > 0 {
			notes = append(notes, fmt.Sprintf("(%s) the client used 90%% or more of its core (median) against %s: there the load generator, not the server, set the pace; compare those servers by server µs/req.", scen, strings.Join(saturated, ", ")))
		}
	}

	if gs := groups(recs, "e", false); len(gs) > 0 {
		ref := find(gs, "c")
		w("## %s\n\n", titles["e"])
		w("Server RSS (`VmRSS`, `/proc/<pid>/status`) once the server is listening, and again once all connections have had their reply and are held open (sampled 0.5 s after the client reports it holds them all). Growth per connection = (held − before) / connections held.\n\n")
		w("| server | RSS before | RSS held | growth per connection (median) | range | × C | held | errors |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|\n")
		per := (*Record).growthPerConn
		for _, g := range gs {
			h := heldOf(g)
			w("| %s | %s MiB | %s MiB | %s | %s – %s | %s | %s | %d |\n", serverLabel[g.server]+fallback(g.server),
				f1(h.beforeMiB), f1(h.heldMiB), bytesStr(h.perConn), bytesStr(h.lo), bytesStr(h.hi),
				f2(pairedRatio(g, ref, per)), thousands(h.conns), g.problems())
		}
		w("\n")
	}

	if gs := groups(recs, "f", false); len(gs) > 0 {
		best, who := bestPeerMedian(recs, nil)
		w("## %s\n\n", titles["f"])
		w("Open loop: `simple-client -rate %s` (100 connections, 64-byte payloads, at most 8 requests in flight per connection) offers a fixed schedule, ", m["rate_f"])
		if !math.IsNaN(best) {
			w("half the best peer's median throughput in (a) (%s, %s req/s). ", who, thousands(best))
		}
		w("Latency counts from each request's *due* time, so a server that falls behind is charged for the queueing it causes (no coordinated omission). **send lag** is how late the client handed requests to the socket after their due time (a full window, or the client itself); it is part of the latency. Percentiles are the median over rounds; **worst p99.9** is the worst round. With client CPU near 100%% the client's own queueing is in the tail too.\n\n")
		w("| server | achieved req/s | p50 | p99 | p99.9 | worst p99.9 | send lag p99 | server CPU | client CPU | rest | errors |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var saturated []string
		for _, g := range gs {
			if c := median(g.values((*Record).clientCPUPct)); c >= 90 {
				saturated = append(saturated, g.server)
			}
			p999 := g.values(lat(func(l Latency) float64 { return l.P999 }))
			_, worst := minMax(p999)
			w("| %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s%% | %d |\n", serverLabel[g.server]+fallback(g.server),
				thousands(median(g.values((*Record).reqPerSec))),
				us(median(g.values(lat(func(l Latency) float64 { return l.P50 })))),
				us(median(g.values((*Record).p99))),
				us(median(p999)), us(worst),
				us(median(g.values((*Record).sendLagP99))),
				f1(median(g.values((*Record).serverCPUPct))), f1(median(g.values((*Record).clientCPUPct))),
				f1(median(g.values((*Record).otherPct))), g.problems())
		}
		w("\n")
		if len(saturated) > 0 {
			notes = append(notes, fmt.Sprintf("(f) at %s req/s the open-loop client used 90%% or more of its core against %s: its own delays are part of those percentiles (the send lag column shows how much), so small differences between servers are within the client's own noise.", m["rate_f"], strings.Join(saturated, ", ")))
		}
	}

	writePortableVsNet(&b, recs)

	writeSyscalls(&b, recs, dir)

	// Noise: runs where the rest of the machine was busy.
	var noisy []*Record
	measured := 0
	for _, r := range recs {
		if r.Syscalls == "" && r.Scenario != "e" {
			measured++
			if r.otherPct() > 25 {
				noisy = append(noisy, r)
			}
		}
	}
	if len(noisy) > 0 {
		sort.Slice(noisy, func(i, j int) bool { return noisy[i].otherPct() > noisy[j].otherPct() })
		var worst []string
		for _, r := range noisy[:min(len(noisy), 8)] {
			worst = append(worst, fmt.Sprintf("%s/%s/r%d %.0f%%", r.Scenario, r.Server, r.Round, r.otherPct()))
		}
		notes = append(notes, fmt.Sprintf("%d of %d runs had more than 25%% of a core used by the rest of the machine (other processes, or kernel work charged to neither process); the worst: %s. Their req/s is unreliable; server µs/req suffers less.", len(noisy), measured, strings.Join(worst, ", ")))
	}
	if len(notes) > 0 {
		w("## Warnings\n\n")
		for _, n := range notes {
			w("- %s\n", n)
		}
		w("\n")
	}

	// The suites' sections (bench/http.sh's, bench/relay.sh's) and the
	// notes below them are theirs to rewrite: keep them.
	if old, err := os.ReadFile(outPath); err == nil {
		if sec := suitesPart(string(old)); sec != "" {
			w("%s", sec)
		}
	}
	return os.WriteFile(outPath, []byte(b.String()), 0o644)
}

var shortTitles = map[string]string{
	"a": "(a) hello, 100 conns, pipeline 1",
	"b": "(b) hello, 1,000 conns, pipeline 1",
	"c": "(c) hello, 100 conns, pipeline 16",
	"d": "(d) echo, 50 conns, 4 KiB",
}

// writePortableVsNet compares the portable engine with Go net, the package
// it runs on: what simpleserver costs off Linux against what net costs.
// The ratios are paired as × C is, with net as the reference.
func writePortableVsNet(b io.Writer, recs []*Record) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	both := func(scen string) (p, n *group) {
		gs := groups(recs, scen, false)
		return find(gs, "portable"), find(gs, "net")
	}
	var table []string
	for _, scen := range []string{"a", "b", "c", "d"} {
		p, n := both(scen)
		if p == nil || n == nil {
			continue
		}
		table = append(table, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %d |\n", shortTitles[scen],
			thousands(median(p.values((*Record).reqPerSec))), thousands(median(n.values((*Record).reqPerSec))),
			f2(pairedRatio(p, n, (*Record).reqPerSec)),
			f2(median(p.values((*Record).serverCPUUsPerReq))), f2(median(n.values((*Record).serverCPUUsPerReq))),
			f2(pairedRatio(p, n, (*Record).serverCPUUsPerReq)), p.problems()+n.problems()))
	}
	var lines []string
	if p, n := both("e"); p != nil && n != nil {
		per := (*Record).growthPerConn
		lines = append(lines, fmt.Sprintf("(e) server RSS growth per held connection: portable %s, net %s, × net %s.",
			bytesStr(median(p.values(per))), bytesStr(median(n.values(per))), f2(pairedRatio(p, n, per))))
	}
	if p, n := both("f"); p != nil && n != nil {
		lines = append(lines, fmt.Sprintf("(f) p99 latency at the same offered rate: portable %s, net %s, × net %s.",
			us(median(p.values((*Record).p99))), us(median(n.values((*Record).p99))), f2(pairedRatio(p, n, (*Record).p99))))
	}
	if len(table) == 0 && len(lines) == 0 {
		return
	}
	w("## Portable engine against Go net\n\n")
	w("The portable engine is what simpleserver runs on off Linux: `servers/simpleserver` built with `-tags simpleserver_portable`, the same library on Go's `net` package (a reader goroutine per connection feeding the one event loop; `TCP_DEFER_ACCEPT` has no portable equivalent and is not applied). Go net, a goroutine per connection, is the package it is built on, so the question is what the event loop costs on top of it. The ratios are paired as × C is, with net as the reference: each round's portable value divided by net's in the same round, then the median over rounds. **req/s × net** above 1: more throughput than net; **µs/req × net** above 1: more server CPU per request than net.\n\n")
	if len(table) > 0 {
		w("| scenario | portable req/s | net req/s | req/s × net | portable µs/req | net µs/req | µs/req × net | errors |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, t := range table {
			w("%s", t)
		}
		w("\n")
	}
	for _, l := range lines {
		w("- %s\n", l)
	}
	if len(lines) > 0 {
		w("\n")
	}
}

func writeSyscalls(b io.Writer, recs []*Record, dir string) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	have := map[string]bool{}
	for _, r := range recs {
		if r.Syscalls != "" {
			have[r.Syscalls] = true
		}
	}
	if len(have) == 0 {
		return
	}
	w("## Syscalls per request\n\n")
	w("A short (a)-style (100 connections, pipeline 1) and (c)-style (pipeline 16) run per server, its syscalls counted over the whole run (connection set-up and teardown included) and divided by the replies verified. **write** includes writev/sendto/sendmsg, **epoll_wait** includes epoll_pwait, **all** is every syscall of every thread.\n\n")
	w("- `strace -c -f` stops the server at every syscall, so it runs far slower than in the tables above; a slower server finds more requests waiting per wake-up and batches more, so strace's per-request counts are a lower bound for the loop's fixed costs.\n")
	w("- `perf stat` counting the syscall tracepoints costs little and leaves the server at close to full speed; its counts are the ones to compare, and it is run for every server.\n\n")
	for _, tool := range []string{"strace", "perf"} {
		if !have[tool] {
			continue
		}
		for _, scen := range []string{"a", "c"} {
			var rows []*Record
			for _, r := range recs {
				if r.Syscalls == tool && r.Scenario == scen {
					rows = append(rows, r)
				}
			}
			if len(rows) == 0 {
				continue
			}
			sort.Slice(rows, func(i, j int) bool {
				return slices.Index(serverOrder, rows[i].Server) < slices.Index(serverOrder, rows[j].Server)
			})
			name := map[string]string{"strace": "`strace -c -f`", "perf": "`perf stat` (syscall tracepoints)"}[tool]
			w("### %s, %s-style run\n\n", name, scen)
			w("| server | req/s while counted | read | write | epoll_wait | epoll_ctl | futex | nanosleep | all syscalls |\n")
			w("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
			for _, r := range rows {
				row, err := syscallsPerRequest(r, dir)
				if err != nil {
					w("| %s | – | %v | | | | | | |\n", serverLabel[r.Server]+fallback(r.Server), err)
					continue
				}
				w("| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", serverLabel[r.Server]+fallback(r.Server),
					thousands(r.reqPerSec()), row.read, row.write, row.wait, row.ctl, row.futex, row.nanosleep, row.total)
			}
			w("\n")
		}
	}
	for _, r := range recs {
		if r.Syscalls == "strace" {
			w("Traced with `%s`; client: `%s`.\n\n", r.TraceCommand, r.ClientCommand)
			break
		}
	}
}

func fallback(server string) string {
	if _, ok := serverLabel[server]; ok {
		return ""
	}
	return server
}

func ptr(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func bytesStr(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.Abs(x) < 10*1024:
		return fmt.Sprintf("%s B", thousands(x))
	default:
		return fmt.Sprintf("%.1f KiB", x/1024)
	}
}
