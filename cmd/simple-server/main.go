// Command simple-server serves the seed protocol (hello), echo, or HTTP/1.1
// over TCP or a Unix socket, or relays TCP connections to upstreams.
//
//	simple-server                          # hello on 127.0.0.1:19920
//	simple-server -proto echo -addr :7000
//	simple-server -proto http -addr :8080  # plaintext and /echo, on the loops
//	simple-server -proto http -workers 64  # the same through net/http handlers
//	simple-server -addr unix:/tmp/hello.sock
//	simple-server -proto relay -addr :7000 -upstream 10.0.0.1:7000,10.0.0.2:7000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
	"github.com/simple-server/simpleserver/internal/sock"
	"github.com/simple-server/simpleserver/protocol/echo"
	"github.com/simple-server/simpleserver/protocol/hello"
	"github.com/simple-server/simpleserver/protocol/plaintext"
	"github.com/simple-server/simpleserver/protocol/relay"
)

func main() {
	os.Exit(run(os.Args[1:], nil))
}

// run parses args, serves until SIGINT/SIGTERM and returns the exit code.
// ready, if not nil, receives the listening address (for tests).
func run(args []string, ready chan<- net.Addr) int {
	fs := flag.NewFlagSet("simple-server", flag.ContinueOnError)
	var (
		addr        = fs.String("addr", simpleserver.DefaultAddr, "listen address: host:port, or unix:/path (unix:@name for the abstract namespace)")
		proto       = fs.String("proto", "hello", "protocol: hello (the seed protocol), echo, http (HTTP/1.1: GET /plaintext, POST /echo), or relay (a TCP proxy to -upstream)")
		upstreams   = fs.String("upstream", "", "relay: the upstreams, HOST:PORT[,HOST:PORT...]")
		upBalance   = fs.String("upstream-balance", "rr", "relay: how connections are spread over upstreams: rr (round robin) or least (fewest connections)")
		connectTO   = fs.Duration("connect-timeout", relay.DefaultConnectTimeout, "relay: how long a connect to an upstream may take before the next is tried")
		loops       = fs.Int("loops", 0, "event loops (0: GOMAXPROCS)")
		balance     = fs.String("balance", "rr", "how new connections are spread over loops: rr (round robin) or least (fewest connections)")
		workers     = fs.Int("workers", 0, "worker goroutines for handlers (0: handlers run on the event loops; with -proto http, >0 serves through net/http handlers)")
		workerQueue = fs.Int("worker-queue", simpleserver.DefaultWorkerQueue, "messages per connection waiting for a worker before reading pauses")
		reusePort   = fs.Bool("reuseport", false, "one SO_REUSEPORT listener per loop")
		deferAccept = fs.Bool("defer-accept", true, "TCP_DEFER_ACCEPT on the listener (off when the server speaks first; off by default with -proto relay, which cannot know)")
		noDelay     = fs.Bool("nodelay", true, "TCP_NODELAY on accepted sockets")
		keepAlive   = fs.Duration("keepalive", 0, "TCP keep-alive idle time on accepted sockets (0: off)")
		kaInterval  = fs.Duration("keepalive-interval", 0, "keep-alive probe interval (0: kernel default)")
		kaCount     = fs.Int("keepalive-count", 0, "keep-alive probes before the connection is dropped (0: kernel default)")
		backlog     = fs.Int("backlog", simpleserver.DefaultBacklog, "listen backlog (capped at net.core.somaxconn)")
		rcvbuf      = fs.Int("rcvbuf", 0, "SO_RCVBUF of accepted sockets in bytes (0: kernel autotuning)")
		sndbuf      = fs.Int("sndbuf", 0, "SO_SNDBUF of accepted sockets in bytes (0: kernel autotuning)")
		maxFrame    = fs.Int("max-frame", hello.DefaultMaxFrame, "largest hello request payload in bytes; larger closes the connection")
		maxHeader   = fs.Int("max-header-bytes", http1.DefaultMaxHeaderBytes, "http: largest request head (request line and fields) in bytes; larger gets 431")
		maxTarget   = fs.Int("max-target-bytes", http1.DefaultMaxTargetBytes, "http: longest request-target in bytes; longer gets 414")
		maxHeaders  = fs.Int("max-headers", http1.DefaultMaxHeaders, "http: most header fields in a request; more gets 431")
		maxBody     = fs.Int64("max-body", 0, "http: largest request body in bytes; larger gets 413 (0: none with -workers, where bodies stream; 4 MiB without, where each is held whole)")
		maxRequests = fs.Int("max-requests-per-conn", 0, "http: close a keep-alive connection after this many requests (0: never)")
		serverName  = fs.String("server-name", "simple-server", "http: the Server header of responses (empty: none)")
		idle        = fs.Duration("idle-timeout", 60*time.Second, "close connections silent for this long (0: never)")
		readTO      = fs.Duration("read-timeout", 30*time.Second, "close connections that leave a request incomplete for this long (0: never)")
		writeTO     = fs.Duration("write-timeout", 30*time.Second, "close connections whose replies make no progress for this long (0: never)")
		highWater   = fs.Int("high-water", simpleserver.DefaultWriteHighWater, "stop reading a connection with this many reply bytes stuck (-1: never)")
		lowWater    = fs.Int("low-water", simpleserver.DefaultWriteLowWater, "resume reading it once they drain to this many")
		maxPending  = fs.Int("max-pending", simpleserver.DefaultMaxPendingBytes, "close a connection whose stuck replies would exceed this many bytes (-1: no cap)")
		maxConns    = fs.Int("max-conns", 0, "close new connections at once above this many open (0: no limit)")
		proxyProto  = fs.Bool("proxy-protocol", false, "require a PROXY protocol header (v1 or v2, as HAProxy's send-proxy sends) at the start of every connection; the client's address is then the header's")
		proxyTO     = fs.Duration("proxy-header-timeout", simpleserver.DefaultProxyHeaderTimeout, "with -proxy-protocol: close a connection whose header is not complete within this long")
		proxyFrom   = fs.String("proxy-trusted", "", "with -proxy-protocol: the only networks proxies may connect from, CIDR[,CIDR...] (empty: any)")
		statsEvery  = fs.Duration("stats-interval", 0, "log the server's counters and goroutine count this often (0: never)")
		metricsAddr = fs.String("metrics-addr", "", "serve /metrics (Prometheus), /healthz and /readyz over HTTP on this host:port (empty: off)")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile (pprof) to this file until the server stops")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		logFormat   = fs.String("log-format", "text", "text (key=value pairs) or json (one object a line)")
		cfg         = newConfigFlags(fs)
		grace       = fs.Duration("shutdown-timeout", 10*time.Second, "how long SIGINT/SIGTERM waits for in-flight requests before closing")
		restartTO   = fs.Duration("restart-timeout", 30*time.Second, "SIGHUP: how long the successor may take to report ready before the restart is abandoned (the old process keeps serving)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if code, done := cfg.apply(fs, os.Stdout, os.Stderr); done {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "simple-server: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments: %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usage("bad -log-level %q: %v", *logLevel, err)
	}
	newHandler, ok := logFormats[*logFormat]
	if !ok {
		return usage("unknown -log-format %q (want text or json)", *logFormat)
	}
	log := slog.New(newHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	srv := &simpleserver.Server{
		Addr:            *addr,
		Loops:           *loops,
		Workers:         *workers,
		WorkerQueue:     *workerQueue,
		ReusePort:       *reusePort,
		Backlog:         *backlog,
		DisableNoDelay:  !*noDelay,
		ReadBuffer:      *rcvbuf,
		WriteBuffer:     *sndbuf,
		IdleTimeout:     *idle,
		ReadTimeout:     *readTO,
		WriteTimeout:    *writeTO,
		WriteHighWater:  *highWater,
		WriteLowWater:   *lowWater,
		MaxPendingBytes: *maxPending,
		MaxConns:        *maxConns,
		Logger:          log,
	}
	if path, ok := strings.CutPrefix(*addr, "unix:"); ok {
		srv.Network, srv.Addr = "unix", path
	}
	switch *proto {
	case "hello":
		if *maxFrame <= 0 {
			return usage("-max-frame must be positive")
		}
		srv.Codec, srv.Handler = hello.Codec(*maxFrame), hello.Handler
	case "echo":
		srv.Handler = echo.Handler
	case "http":
		p := &http1.Protocol{
			ServerName:         *serverName,
			MaxHeaderBytes:     *maxHeader,
			MaxTargetBytes:     *maxTarget,
			MaxHeaders:         *maxHeaders,
			MaxBodyBytes:       *maxBody,
			MaxRequestsPerConn: *maxRequests,
		}
		if *workers > 0 {
			p.Handler = plaintext.Mux()
		} else {
			p.Fast = plaintext.Fast
		}
		srv.Stream = p
	case "relay":
		r := &relay.Relay{ConnectTimeout: *connectTO}
		for a := range strings.SplitSeq(*upstreams, ",") {
			if a = strings.TrimSpace(a); a != "" {
				r.Upstreams = append(r.Upstreams, a)
			}
		}
		switch *upBalance {
		case "rr":
		case "least":
			r.Balance = relay.LeastConns
		default:
			return usage("unknown -upstream-balance %q (want rr or least)", *upBalance)
		}
		if *connectTO <= 0 {
			return usage("-connect-timeout must be positive")
		}
		if err := r.Configure(srv); err != nil {
			return usage("%v", err)
		}
		if !explicitlySet(fs, "defer-accept") {
			// A relay does not know whether its protocol's client
			// speaks first.
			*deferAccept = false
		}
	default:
		return usage("unknown -proto %q (want hello, echo, http or relay)", *proto)
	}
	if *upstreams != "" && *proto != "relay" {
		return usage("-upstream is for -proto relay")
	}
	switch *balance {
	case "rr":
		srv.Balance = simpleserver.RoundRobin
	case "least":
		srv.Balance = simpleserver.LeastConns
	default:
		return usage("unknown -balance %q (want rr or least)", *balance)
	}
	if !*deferAccept {
		srv.DeferAccept = -1
	}
	if *proxyProto {
		if *proxyTO <= 0 {
			return usage("-proxy-header-timeout must be positive")
		}
		srv.ProxyProtocol = &simpleserver.ProxyProtocol{Timeout: *proxyTO}
		for cidr := range strings.SplitSeq(*proxyFrom, ",") {
			if cidr = strings.TrimSpace(cidr); cidr == "" {
				continue
			}
			pfx, err := netip.ParsePrefix(cidr)
			if err != nil {
				return usage("bad -proxy-trusted %q: %v", cidr, err)
			}
			srv.ProxyProtocol.Trusted = append(srv.ProxyProtocol.Trusted, pfx)
		}
	} else if *proxyFrom != "" {
		return usage("-proxy-trusted is for -proxy-protocol")
	}
	if *keepAlive < 0 || *kaInterval < 0 || *kaCount < 0 {
		return usage("keep-alive values must not be negative")
	}
	if *keepAlive > 0 {
		srv.KeepAlive = net.KeepAliveConfig{Enable: true, Idle: *keepAlive, Interval: *kaInterval, Count: *kaCount}
	}
	if *workerQueue <= 0 {
		return usage("-worker-queue must be positive")
	}
	if *backlog <= 0 {
		return usage("-backlog must be positive")
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return usage("-cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return usage("-cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *restartTO <= 0 {
		return usage("-restart-timeout must be positive")
	}
	// Caught from before the server starts: a SIGTERM that arrives while
	// it starts is a graceful stop once it has, not the default action's
	// abrupt exit.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	sockets, err := openSockets(srv, *metricsAddr, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer sockets.release()
	if err := srv.Start(sockets.serverListeners()...); err != nil {
		log.Error("cannot start", "err", err)
		if ln := sockets.metricsListener(); ln != nil {
			ln.Close()
		}
		return 1
	}
	bound := srv.Addrs()[0]
	effectiveLoops := *loops
	if effectiveLoops == 0 {
		effectiveLoops = runtime.GOMAXPROCS(0)
	}
	attrs := []any{
		"addr", bound.String(), "network", bound.Network(), "proto", *proto, "engine", srv.Engine(),
		"loops", effectiveLoops, "balance", *balance, "workers", *workers, "worker_queue", *workerQueue,
		"reuseport", *reusePort, "defer_accept", *deferAccept, "nodelay", *noDelay,
		"keepalive", *keepAlive, "backlog", sock.Backlog(*backlog),
		"rcvbuf", *rcvbuf, "sndbuf", *sndbuf,
		"idle_timeout", *idle, "read_timeout", *readTO, "write_timeout", *writeTO,
		"high_water", *highWater, "low_water", *lowWater, "max_pending", *maxPending, "max_conns", *maxConns,
		"proxy_protocol", *proxyProto,
	}
	switch *proto {
	case "hello":
		attrs = append(attrs, "max_frame", *maxFrame)
	case "relay":
		attrs = append(attrs, "upstreams", *upstreams, "upstream_balance", *upBalance, "connect_timeout", *connectTO)
	case "http":
		api := "fast"
		if *workers > 0 {
			api = "net/http"
		}
		attrs = append(attrs, "http_api", api, "max_header_bytes", *maxHeader, "max_target_bytes", *maxTarget,
			"max_headers", *maxHeaders, "max_body", *maxBody, "max_requests_per_conn", *maxRequests, "server_name", *serverName)
	}
	var endpoint *ops
	if ln := sockets.metricsListener(); ln != nil {
		endpoint = startOps(ln, srv, *proto, log)
		defer endpoint.close(context.Background())
		attrs = append(attrs, "metrics_addr", ln.Addr().String())
	}
	attrs = append(attrs, sockets.logAttrs()...)
	log.Info("simple-server listening", attrs...)
	handedOver := sockets.serve(log, *restartTO)
	if ready != nil {
		ready <- bound
	}

	var tick <-chan time.Time
	if *statsEvery > 0 {
		t := time.NewTicker(*statsEvery)
		defer t.Stop()
		tick = t.C
	}
	var s os.Signal
	for s == nil {
		select {
		case s = <-sig:
		case s = <-handedOver:
		case <-tick:
			logStats(log, srv.Stats())
		}
	}
	log.Info("shutting down", "signal", s.String(), "timeout", *grace)
	switch {
	case endpoint != nil && s == syscall.SIGHUP:
		// The successor serves the metrics socket too, ready: the old
		// process stops accepting on it, so that every scrape and probe
		// from now on reaches the successor, and none sees this drain as
		// the service's readiness.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		endpoint.close(ctx)
		cancel()
	case endpoint != nil:
		endpoint.drain()
	}
	sockets.release()
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			log.Warn("shutdown deadline passed; remaining connections were closed")
		}
		return 1
	}
	log.Info("stopped")
	return 0
}

// logStats writes one line with the server's counters, for soak tests and
// operators; it runs on a timer, never per request.
func logStats(log *slog.Logger, st simpleserver.Stats) {
	attrs := []any{
		"open", st.Open, "accepted", st.Accepted, "goroutines", runtime.NumGoroutine(),
		"bytes_in", st.BytesIn, "bytes_out", st.BytesOut, "msgs_in", st.MessagesIn, "msgs_out", st.MessagesOut,
		"queued", st.BytesQueued, "paused", st.Paused, "worker_queued", st.WorkerQueued, "accept_backoffs", st.AcceptBackoffs,
		"outbound", st.Outbound, "dialed", st.Dialed,
	}
	for _, r := range closeReasons(st.Closed) {
		attrs = append(attrs, "closed_"+r.name, r.n)
	}
	log.Info("stats", attrs...)
}
