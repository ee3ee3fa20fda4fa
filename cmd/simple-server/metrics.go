package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/simple-server/simpleserver"
)

// ops is the operator's HTTP endpoint (-metrics-addr): /metrics for
// Prometheus, /healthz and /readyz for load balancers and orchestrators. It
// is served by net/http on its own goroutines, never on the event loops,
// and it reads Server.Stats when scraped: nothing on the request path.
type ops struct {
	http  *http.Server
	ready atomic.Bool // false from the moment a drain begins
	done  chan struct{}
}

// startOps serves the endpoint on ln until close. Its readiness starts
// true: it is started once the server accepts. The goroutine that runs
// run calls it.
func startOps(ln net.Listener, srv *simpleserver.Server, proto string, log *slog.Logger) *ops {
	o := &ops{done: make(chan struct{})}
	o.ready.Store(true)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newStatsCollector(srv, proto, &o.ready),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
	}))
	// Alive as long as the process answers, draining included: a restart
	// must not be mistaken for a hung process.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	// Ready while accepting: a load balancer that polls this stops sending
	// before a drain cuts connections.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !o.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("draining\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	o.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(o.done)
		if err := o.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return o
}

// drain makes /readyz answer 503 from now on. Any goroutine may call it.
func (o *ops) drain() { o.ready.Store(false) }

// close stops the endpoint, letting scrapes under way finish until ctx
// ends. The goroutine that runs run calls it: last, so that the drain
// stays observable to the end, or, once a successor serves the metrics
// socket, at once. A second call returns at once.
func (o *ops) close(ctx context.Context) {
	if err := o.http.Shutdown(ctx); err != nil {
		o.http.Close()
	}
	<-o.done
}

// closeReasons names ClosedStats' counters the way the library's debug log
// names a close's reason; the metrics' reason label and the stats log line
// use these names.
func closeReasons(c simpleserver.ClosedStats) []struct {
	name string
	n    uint64
} {
	return []struct {
		name string
		n    uint64
	}{
		{"peer", c.Peer}, {"handler", c.Handler}, {"idle", c.Idle},
		{"read_timeout", c.ReadTimeout}, {"write_timeout", c.WriteTimeout},
		{"slow_consumer", c.SlowConsumer}, {"protocol", c.Protocol}, {"panic", c.Panic},
		{"shutdown", c.Shutdown}, {"limit", c.Limit}, {"error", c.Error},
		{"detached", c.Detached}, {"dial", c.Dial}, {"proxy", c.Proxy},
	}
}

// statsCollector turns a Server's Stats into Prometheus metrics when
// scraped. Names follow Prometheus' rules: the simpleserver_ prefix, base
// units (bytes), _total on counters.
type statsCollector struct {
	srv   *simpleserver.Server
	ready *atomic.Bool
	proto string

	info, ready1, open, outbound, accepted, dialed, closed  *prometheus.Desc
	bytesIn, bytesOut, msgsIn, msgsOut, queued, paused      *prometheus.Desc
	workerQueued, backoffs, loopOpen, loopMsgsIn, loopBytes *prometheus.Desc
}

func newStatsCollector(srv *simpleserver.Server, proto string, ready *atomic.Bool) *statsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("simpleserver_"+name, help, labels, nil)
	}
	return &statsCollector{
		srv: srv, ready: ready, proto: proto,
		info:         d("info", "The server's engine and protocol; always 1.", "engine", "proto"),
		ready1:       d("ready", "1 while the server accepts connections, 0 once a drain (shutdown or restart) has begun."),
		open:         d("connections_open", "Connections open now, outbound included."),
		outbound:     d("outbound_connections_open", "Outbound (dialed) connections open now, dials under way included."),
		accepted:     d("connections_accepted_total", "Connections accepted, those closed at once by a limit included."),
		dialed:       d("dials_total", "Outbound dials started."),
		closed:       d("connections_closed_total", "Connections closed, by reason.", "reason"),
		bytesIn:      d("received_bytes_total", "Bytes read from sockets."),
		bytesOut:     d("sent_bytes_total", "Bytes written to sockets."),
		msgsIn:       d("received_messages_total", "Messages handed to the handler."),
		msgsOut:      d("sent_messages_total", "Replies accepted for sending."),
		queued:       d("queued_bytes", "Output queued in the server, not yet taken by the kernel."),
		paused:       d("paused_connections", "Connections not being read now (backpressure, a full worker queue, or paused by the handler)."),
		workerQueued: d("worker_queued_messages", "Messages and offloaded functions waiting for a worker."),
		backoffs:     d("accept_backoffs_total", "Times a listener stopped accepting for a while after accept failed (out of descriptors or memory)."),
		loopOpen:     d("loop_connections_open", "Connections open now, per event loop.", "loop"),
		loopMsgsIn:   d("loop_received_messages_total", "Messages handed to the handler, per event loop.", "loop"),
		loopBytes:    d("loop_received_bytes_total", "Bytes read from sockets, per event loop.", "loop"),
	}
}

// Describe implements prometheus.Collector. The registry calls it.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.ready1, c.open, c.outbound, c.accepted, c.dialed, c.closed,
		c.bytesIn, c.bytesOut, c.msgsIn, c.msgsOut, c.queued, c.paused, c.workerQueued, c.backoffs,
		c.loopOpen, c.loopMsgsIn, c.loopBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one Stats snapshot per scrape.
// The registry calls it, on the scrape's goroutine.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.info, 1, c.srv.Engine(), c.proto)
	ready := 0.0
	if c.ready.Load() {
		ready = 1
	}
	gauge(c.ready1, ready)
	gauge(c.open, float64(st.Open))
	gauge(c.outbound, float64(st.Outbound))
	counter(c.accepted, st.Accepted)
	counter(c.dialed, st.Dialed)
	for _, r := range closeReasons(st.Closed) {
		counter(c.closed, r.n, r.name)
	}
	counter(c.bytesIn, st.BytesIn)
	counter(c.bytesOut, st.BytesOut)
	counter(c.msgsIn, st.MessagesIn)
	counter(c.msgsOut, st.MessagesOut)
	gauge(c.queued, float64(st.BytesQueued))
	gauge(c.paused, float64(st.Paused))
	gauge(c.workerQueued, float64(st.WorkerQueued))
	counter(c.backoffs, st.AcceptBackoffs)
	for i, l := range c.srv.LoopStats() {
		loop := strconv.Itoa(i)
		gauge(c.loopOpen, float64(l.Open), loop)
		counter(c.loopMsgsIn, l.MessagesIn, loop)
		counter(c.loopBytes, l.BytesIn, loop)
	}
}
