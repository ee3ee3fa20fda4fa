package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one run, as the flags describe it.
type Config struct {
	Addr     string        // host:port, or "unix:/path"
	Proto    string        // "hello", "echo" or "http"
	Conns    int           // connections
	Pipeline int           // requests in flight per connection
	N        int64         // total requests, spread exactly over the connections; 0 = no limit
	Duration time.Duration // stop sending after this long; 0 = no limit (then N must be set)
	Timeout  time.Duration // per reply, per write, per dial
	Payloads [][]byte      // request payloads, cycled through by each connection; http: POST /echo bodies, none for GET /plaintext
	Close    bool          // end each connection with the protocol's close and expect EOF
	Chunked  bool          // http: send the POST bodies with Transfer-Encoding: chunked

	// Churn, if positive, closes each connection after this many replies
	// and dials a new one in its place, for the whole run: a server's
	// accept path under load, and connections that cross a restart.
	Churn int
	// Retry resends a connection's outstanding requests on a new
	// connection when it ends (EOF or ECONNRESET) before any byte of its
	// oldest outstanding reply arrived; see retry in churn.go.
	Retry bool

	// Rate, if positive, makes the run open-loop: Rate requests per second
	// in total, on a fixed schedule spread evenly over the connections
	// (the j-th request of the run is due at j/Rate, on connection
	// j mod Conns). Latency is measured from each request's due time, so a
	// server that falls behind is charged for the wait (no coordinated
	// omission). A connection that is late sends every request already due
	// at once, as far as its Pipeline window allows; with the window full
	// it waits for replies, and the requests it could not send keep their
	// due times.
	Rate float64
	// Hold makes each connection send one request, read its reply and then
	// stay open, silent, until Duration ends: a server's memory per idle
	// connection. OnHold, if set, is called once every connection has its
	// reply (or has failed), with the number held.
	Hold   bool
	OnHold func(held int)

	// Progress, if not nil, receives a line a second while the run is long.
	Progress io.Writer
	// DialConcurrency bounds dials in progress at once (0 means 200), so
	// that thousands of connections do not arrive as one burst of SYNs and
	// overflow the server's accept backlog.
	DialConcurrency int

	forceSplit bool // tests: use the two-goroutine loop whatever the window
}

func (c *Config) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("-addr must not be empty")
	case c.Conns < 1:
		return fmt.Errorf("-c must be at least 1 (got %d)", c.Conns)
	case c.Pipeline < 1:
		return fmt.Errorf("-pipeline must be at least 1 (got %d)", c.Pipeline)
	case c.N < 0:
		return fmt.Errorf("-n must not be negative (got %d)", c.N)
	case c.Duration < 0:
		return fmt.Errorf("-d must not be negative (got %v)", c.Duration)
	case c.N == 0 && c.Duration == 0:
		return errors.New("-d must be positive when -n is 0 (the run needs an end)")
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive (got %v)", c.Timeout)
	case c.DialConcurrency < 0:
		return fmt.Errorf("dial concurrency must not be negative (got %d)", c.DialConcurrency)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("-rate must be a positive number of requests/s, or 0 (got %v)", c.Rate)
	case c.Hold && c.Rate > 0:
		return errors.New("-hold and -rate do not go together")
	case c.Hold && (c.N > 0 || c.Duration == 0):
		return errors.New("-hold sends one request per connection and holds it for -d: give -d, not -n")
	case c.Churn < 0:
		return fmt.Errorf("-churn must not be negative (got %d)", c.Churn)
	}
	w, err := c.newWire()
	if err != nil {
		return err
	}
	return c.validateChurn(w)
}

// runner is what every connection of a run shares.
type runner struct {
	cfg     Config
	w       *wire
	base    time.Time // run clock origin: run-clock times are ns since base
	timeout int64     // cfg.Timeout in ns
	slack   int64     // how far past a deadline a lazily-moved deadline may lie

	interval float64      // Rate > 0: ns between two requests of the run's schedule
	start    int64        // run-clock time the run (and the schedule) started
	holding  atomic.Int64 // Hold: connections still to get their reply
	held     atomic.Int64 // Hold: connections that got it

	stopped  atomic.Bool     // set when the run stops sending (checked per batch)
	stopCh   <-chan struct{} // closed at the same moment, for goroutines that wait
	errCount atomic.Int64    // connections failed so far, for the progress line
}

// now reads the run clock. time.Since uses the monotonic clock, so wall
// clock steps do not show up as latency.
func (r *runner) now() int64 { return int64(time.Since(r.base)) }

// due is the run-clock time at which connection id's k-th request is due
// on the Rate schedule: the run's request id + k*Conns.
func (r *runner) due(id int, k uint64) int64 {
	return r.start + int64(float64(uint64(id)+k*uint64(r.cfg.Conns))*r.interval)
}

// at converts a run-clock time to a time.Time, for deadlines.
func (r *runner) at(t int64) time.Time { return r.base.Add(time.Duration(t)) }

// run performs one load run and reports it. The error is for a config that
// cannot run at all; everything that happens on the wire is in the Result.
func run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	if cfg.DialConcurrency == 0 {
		cfg.DialConcurrency = 200
	}
	w, _ := cfg.newWire() // validated above
	// The -rate schedule's clock, made first so a failure leaves nothing
	// to undo.
	var sched *sleeper
	if cfg.Rate > 0 {
		var err error
		if sched, err = newSleeper(); err != nil {
			return Result{}, fmt.Errorf("-rate: %w", err)
		}
	}
	r := &runner{cfg: cfg, w: w, base: time.Now(), timeout: int64(cfg.Timeout), slack: int64(cfg.Timeout / 16)}

	// Latency goes into a few shared histograms, not one per connection:
	// a table is 58 KiB, and a connection's samples need no table of their
	// own. A few times GOMAXPROCS shards keep the atomic adds uncontended.
	shards := make([]*histogram, min(cfg.Conns, 4*runtime.GOMAXPROCS(0)))
	var lagShards []*histogram
	for i := range shards {
		shards[i] = newHistogram()
	}
	if cfg.Rate > 0 {
		r.interval = 1e9 / cfg.Rate
		lagShards = make([]*histogram, len(shards))
		for i := range lagShards {
			lagShards[i] = newHistogram()
		}
	}
	// -rate needs a queue too: the scheduler writes, a reader reads.
	split := cfg.forceSplit || cfg.Rate > 0 || !windowFits(cfg.Pipeline, w.maxFrame, w.maxReply)
	conns := make([]*conn, cfg.Conns)
	for i := range conns {
		c := &conn{id: i, r: r, hist: shards[i%len(shards)], quota: -1, closeAt: -1}
		if lagShards != nil {
			c.lag = lagShards[i%len(lagShards)]
		}
		if cfg.N > 0 {
			// Spread N exactly: the first N%Conns connections send one more.
			c.quota = cfg.N / int64(cfg.Conns)
			if int64(i) < cfg.N%int64(cfg.Conns) {
				c.quota++
			}
		}
		// Start each connection at a different payload, so the server sees
		// a mix at every moment rather than every connection in lock step.
		c.next = i % len(w.frames)
		c.wbuf = make([]byte, 0, min(cfg.Pipeline*w.maxFrame, 64<<10))
		if w.http != nil {
			c.hp = &respParser{}
			if cfg.Close && c.quota > 0 {
				c.closeAt = c.quota - 1 // the last request asks the server to close
			}
		} else {
			c.scratch = make([]byte, min(w.maxReply, 16<<10))
		}
		if split && !cfg.Hold {
			c.queue = make(chan inflight, cfg.Pipeline)
		} else {
			c.ring = make([]inflight, cfg.Pipeline)
		}
		conns[i] = c
	}

	dialAll(ctx, r, conns)

	// The clock and the -d limit start once every connection is up, so the
	// dial phase (which can take a while for thousands) does not count. The
	// clock starts first: the limit's timer then fires no earlier than -d
	// after it, so a -d run never reports less than -d.
	cpu0 := cpuTimes()
	start := r.now()
	r.start = start
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, cfg.Duration)
		defer cancel()
	}
	r.stopCh = runCtx.Done()
	go func() {
		<-runCtx.Done()
		r.stopped.Store(true)
	}()
	if cfg.Hold {
		held := 0
		for _, c := range conns {
			if c.nc != nil {
				held++
			}
		}
		r.holding.Store(int64(held))
		if held == 0 {
			r.holdDone(0)
		}
	}

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Go(func() { r.reportProgress(conns, start, progressDone) })
	}

	var schedWG sync.WaitGroup
	if sched != nil {
		schedWG.Go(func() { r.schedule(conns, sched) })
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		if c.nc != nil {
			wg.Go(c.run)
		}
	}
	wg.Wait()
	if sched != nil {
		sched.close()
		schedWG.Wait()
	}
	elapsed := time.Duration(r.now() - start)
	cpu1 := cpuTimes()
	close(progressDone)
	progressWG.Wait()

	res := summarize(cfg, conns, shards, elapsed)
	if lagShards != nil {
		lag := newHistogram()
		for _, h := range lagShards {
			lag.merge(h)
		}
		l := latencyOf(lag)
		res.SendLag = &l
		res.OfferedRate = cfg.Rate
	}
	res.ClientCPU = CPU{
		UserSec:  cpu1.user,
		SysSec:   cpu1.sys,
		TotalSec: cpu1.user + cpu1.sys,
		RunSec:   (cpu1.user + cpu1.sys) - (cpu0.user + cpu0.sys),
	}
	if s := elapsed.Seconds(); s > 0 {
		res.ClientCPU.RunPercent = 100 * res.ClientCPU.RunSec / s
	}
	return res, nil
}

// schedule is the clock of a -rate run: it sleeps until the next request
// of the run is due, then releases every request due by now to its
// connection (request j to connection j mod Conns), which sends it if its
// window has room. It returns when the run stops (or sl is closed).
func (r *runner) schedule(conns []*conn, sl *sleeper) {
	var next uint64 // the run's next request to release
	n := uint64(len(conns))
	for !r.stopped.Load() {
		now := r.now()
		for {
			c := conns[next%n]
			if r.due(c.id, next/n) > now {
				break
			}
			if c.nc != nil {
				c.release()
			}
			next++
		}
		c := conns[next%n]
		if wait := r.due(c.id, next/n) - r.now(); wait > 0 {
			if err := sl.sleep(time.Duration(wait)); err != nil {
				return
			}
		}
	}
}

// holdDone reports, once, that every connection of a Hold run has its
// reply or has failed.
func (r *runner) holdDone(held int) {
	if r.cfg.OnHold != nil {
		r.cfg.OnHold(held)
	}
}

// dialAll connects every connection, at most cfg.DialConcurrency at a time,
// and gives each its buffered reader. A failed dial is recorded on the
// connection, which then sits the run out.
func dialAll(ctx context.Context, r *runner, conns []*conn) {
	// Read buffer: room for a whole window of replies, so one read(2)
	// can collect them all, within 4..64 KiB.
	bufSize := min(max(r.cfg.Pipeline*r.w.maxReply, 4<<10), 64<<10)
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	var wg sync.WaitGroup
	for _, c := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			nc, err := r.dial(ctx)
			if err != nil {
				if ctx.Err() == nil { // an interrupted run is not a failed dial
					c.dialErrors++
					c.fail(kindDial, err)
				}
				return
			}
			c.dials++
			c.nc = nc
			c.br = bufio.NewReaderSize(nc, bufSize)
		})
	}
	wg.Wait()
}

// dial connects to the server once, within -timeout.
func (r *runner) dial(ctx context.Context) (net.Conn, error) {
	network, address := "tcp", r.cfg.Addr
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		network, address = "unix", path
	}
	d := net.Dialer{Timeout: r.cfg.Timeout}
	return d.DialContext(ctx, network, address)
}

// reportProgress prints, once a second, the replies of the last second and
// the failures so far. Short runs stay silent: their summary says it all.
func (r *runner) reportProgress(conns []*conn, start int64, done <-chan struct{}) {
	const quietFor = 3 * time.Second
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last uint64
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		var total uint64
		for _, c := range conns {
			total += c.progress.Load()
		}
		elapsed := time.Duration(r.now() - start)
		if r.cfg.Duration > quietFor || elapsed >= quietFor {
			fmt.Fprintf(r.cfg.Progress, "%6.1fs %10d req/s %6d errors\n",
				elapsed.Seconds(), total-last, r.errCount.Load())
		}
		last = total
	}
}

func summarize(cfg Config, conns []*conn, shards []*histogram, elapsed time.Duration) Result {
	res := Result{
		Proto:       cfg.Proto,
		Addr:        cfg.Addr,
		Connections: cfg.Conns,
		Pipeline:    cfg.Pipeline,
		DurationSec: elapsed.Seconds(),
	}
	for _, c := range conns {
		if c.nc != nil {
			res.Connected++
		}
		if c.held {
			res.Held++
		}
		res.Sent += c.sent
		res.Requests += c.replies
		res.Mismatches += c.mismatches
		res.BytesSent += c.bytesOut
		res.BytesReceived += c.bytesIn
		res.Dials += c.dials
		res.DialErrors += c.dialErrors
		res.Retried += c.retried
		res.Errors.add(c.errKind)
		if c.err != nil && res.FirstError == "" {
			res.FirstError = fmt.Sprintf("conn %d: %v: %v", c.id, c.errKind, c.err)
		}
		if c.firstMismatch != "" && res.FirstMismatch == "" {
			res.FirstMismatch = c.firstMismatch
		}
	}
	if s := elapsed.Seconds(); s > 0 {
		res.RequestsPerSec = float64(res.Requests) / s
		res.SentMBps = float64(res.BytesSent) / 1e6 / s
		res.ReceivedMBps = float64(res.BytesReceived) / 1e6 / s
	}
	all := newHistogram()
	for _, h := range shards {
		all.merge(h)
	}
	res.Latency = latencyOf(all)
	res.Churn, res.Retry = cfg.Churn, cfg.Retry
	res.OK = res.Mismatches == 0 && res.Errors.Total == 0 && res.DialErrors == 0
	return res
}
