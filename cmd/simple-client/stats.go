package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// errKind sorts a connection's fatal error into the classes the summary
// reports. A connection stops at its first error and records only that one,
// so the counts are connections, not events.
type errKind int

const (
	kindNone     errKind = iota
	kindDial             // could not connect
	kindRead             // read failed (reset, unexpected bytes after a close request)
	kindWrite            // write failed (broken pipe, reset)
	kindEOF              // the server closed while replies were still owed
	kindTimeout          // a reply, or a write, took longer than -timeout
	kindProtocol         // http: a response that cannot be parsed, or Connection: close unasked
)

func (k errKind) String() string {
	return [...]string{"none", "dial", "read", "write", "eof", "timeout", "protocol"}[k]
}

// classify decides the class of an I/O error from op ("read" or "write").
// Deadlines first: a timeout is the server being slow, not the connection
// breaking, and the reader wants to tell the two apart.
func classify(op string, err error) errKind {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return kindTimeout
	case errors.Is(err, errProtocol):
		return kindProtocol
	case op == "read" && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return kindEOF
	case op == "read":
		return kindRead
	default:
		return kindWrite
	}
}

// Errors counts connections that ended in error, by class.
type Errors struct {
	Dial     int `json:"dial"`
	Read     int `json:"read"`
	Write    int `json:"write"`
	EOF      int `json:"eof"`
	Timeout  int `json:"timeout"`
	Protocol int `json:"protocol"`
	Total    int `json:"total"`
}

func (e *Errors) add(k errKind) {
	switch k {
	case kindDial:
		e.Dial++
	case kindRead:
		e.Read++
	case kindWrite:
		e.Write++
	case kindEOF:
		e.EOF++
	case kindTimeout:
		e.Timeout++
	case kindProtocol:
		e.Protocol++
	default:
		return
	}
	e.Total++
}

// Latency is the distribution of per-request latency, in microseconds, from
// the moment a request's bytes were handed to Write (with -rate: the moment
// the request was due on the schedule, whether or not it could be sent
// then) to the moment the last byte of its reply was read.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func latencyOf(h *histogram) Latency {
	if h.total.Load() == 0 {
		return Latency{}
	}
	us := func(ns uint64) float64 { return float64(ns) / 1e3 }
	return Latency{
		Min:  us(h.min.Load()),
		Mean: h.mean() / 1e3,
		P50:  us(h.quantile(0.50)),
		P90:  us(h.quantile(0.90)),
		P99:  us(h.quantile(0.99)),
		P999: us(h.quantile(0.999)),
		Max:  us(h.max.Load()),
	}
}

// CPU is the client process's CPU time (getrusage RUSAGE_SELF, all
// threads), in seconds: in total when the run ended, and spent during the
// measured run alone (after the dials), also as a percentage of one core.
type CPU struct {
	UserSec    float64 `json:"user_s"`
	SysSec     float64 `json:"sys_s"`
	TotalSec   float64 `json:"total_s"`
	RunSec     float64 `json:"run_s"`
	RunPercent float64 `json:"run_pct"`
}

// Result is the outcome of a run; with -json it is printed as is.
type Result struct {
	Proto       string `json:"proto"`
	Addr        string `json:"addr"`
	Connections int    `json:"connections"` // asked for
	Connected   int    `json:"connected"`   // dialled successfully
	Pipeline    int    `json:"pipeline"`

	// Sent counts requests written in full; Requests counts replies read in
	// full and compared (Requests - Mismatches of them matched). In a clean
	// run they are equal, and equal to -n when -n is given.
	Sent       uint64 `json:"sent"`
	Requests   uint64 `json:"requests"`
	Mismatches uint64 `json:"mismatches"`

	DurationSec    float64 `json:"duration_s"`
	RequestsPerSec float64 `json:"requests_per_s"`

	// Bytes on the wire, each way: requests including their length headers,
	// and replies including the hello prefix (for http: whole requests and
	// responses, headers and chunk framing included). MB is 10^6 bytes.
	BytesSent     uint64  `json:"bytes_sent"`
	BytesReceived uint64  `json:"bytes_received"`
	SentMBps      float64 `json:"sent_mb_per_s"`
	ReceivedMBps  float64 `json:"received_mb_per_s"`

	Latency Latency `json:"latency_us"`
	Errors  Errors  `json:"errors"`

	// With -rate: the schedule's rate, and how late requests were handed
	// to Write after their due time (a full window, or the client itself
	// falling behind).
	OfferedRate float64  `json:"offered_rate_per_s,omitempty"`
	SendLag     *Latency `json:"send_lag_us,omitempty"`

	// With -hold: connections that got their reply and were held open.
	Held int `json:"held,omitempty"`

	// Dials counts connections made, the first ones and (-churn, -retry)
	// the new ones; DialErrors the dials that failed (refused, timed
	// out), each of which fails the run. Retried counts requests resent
	// on a new connection by -retry.
	Churn      int    `json:"churn,omitempty"`
	Retry      bool   `json:"retry,omitempty"`
	Dials      uint64 `json:"dials"`
	DialErrors uint64 `json:"dial_errors"`
	Retried    uint64 `json:"retried"`

	// The client's own CPU time, so that a run whose client was the
	// bottleneck can be told apart from one whose server was.
	ClientCPU CPU `json:"client_cpu"`

	// The first error and first mismatch, by connection number, to start
	// debugging from; empty when there were none.
	FirstError    string `json:"first_error,omitempty"`
	FirstMismatch string `json:"first_mismatch,omitempty"`

	OK bool `json:"ok"`
}

// ExitCode is the process status the result calls for: 0 only if every
// reply matched and no connection failed.
func (r *Result) ExitCode() int {
	if r.OK {
		return 0
	}
	return 1
}

func (r *Result) writeJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// fmtUS prints a latency with three or four significant digits in a unit
// that suits it, which is all a log-linear histogram knows anyway.
func fmtUS(us float64) string {
	switch {
	case us < 1e3:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.3fs", us/1e6)
	}
}

func (r *Result) writeText(w io.Writer) error {
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	l := r.Latency
	_, err := fmt.Fprintf(w, `proto        %s  addr %s  pipeline %d
connections  %d (%d connected)
requests     %d replies (%d sent) in %.3fs = %.0f req/s
throughput   sent %.2f MB (%.2f MB/s)  received %.2f MB (%.2f MB/s)
latency      p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (min %s  mean %s)
mismatches   %d
errors       dial %d  read %d  write %d  eof %d  timeout %d  protocol %d
`,
		r.Proto, r.Addr, r.Pipeline,
		r.Connections, r.Connected,
		r.Requests, r.Sent, r.DurationSec, r.RequestsPerSec,
		float64(r.BytesSent)/1e6, r.SentMBps, float64(r.BytesReceived)/1e6, r.ReceivedMBps,
		fmtUS(l.P50), fmtUS(l.P90), fmtUS(l.P99), fmtUS(l.P999), fmtUS(l.Max), fmtUS(l.Min), fmtUS(l.Mean),
		r.Mismatches,
		r.Errors.Dial, r.Errors.Read, r.Errors.Write, r.Errors.EOF, r.Errors.Timeout, r.Errors.Protocol)
	if err != nil {
		return err
	}
	if r.SendLag != nil {
		g := r.SendLag
		fmt.Fprintf(w, "schedule     offered %.0f req/s  send lag p50 %s  p99 %s  max %s\n",
			r.OfferedRate, fmtUS(g.P50), fmtUS(g.P99), fmtUS(g.Max))
	}
	if r.Held > 0 {
		fmt.Fprintf(w, "held         %d connections\n", r.Held)
	}
	if r.Churn > 0 || r.Retry {
		fmt.Fprintf(w, "reconnects   dials %d  dial errors %d  retried %d  (churn %d, retry %v)\n",
			r.Dials, r.DialErrors, r.Retried, r.Churn, r.Retry)
	}
	fmt.Fprintf(w, "client cpu   user %.2fs  sys %.2fs  during run %.2fs (%.0f%% of a core)\n",
		r.ClientCPU.UserSec, r.ClientCPU.SysSec, r.ClientCPU.RunSec, r.ClientCPU.RunPercent)
	if r.FirstMismatch != "" {
		fmt.Fprintf(w, "first mismatch: %s\n", r.FirstMismatch)
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", r.FirstError)
	}
	_, err = fmt.Fprintf(w, "result       %s\n", verdict)
	return err
}
