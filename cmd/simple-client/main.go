// Command simple-client is a load generator and verifier for simple-server.
//
// It opens -c connections, keeps -pipeline requests in flight on each (or,
// with -rate, sends requests on a fixed schedule, at most -pipeline in
// flight), and checks every reply byte for byte and in order, for the seed
// "hello" protocol (4-byte little-endian length + payload, answered by
// "Hi there, you just said: " + payload), raw "echo", or "http": HTTP/1.1
// with keep-alive, every request of a connection on that one connection.
// It stops after -n requests or -d of time, then prints throughput,
// latency percentiles, its own CPU time and error counts (as JSON with
// -json). With -hold it sends one request per connection and then holds
// them all open until -d ends, to measure a server's memory per idle
// connection.
//
// With -proto http each request is "GET /plaintext", whose response must
// be 200 with the body "Hello, World!" and Content-Type text/plain; with
// -size N it is "POST /echo" with an N-byte body (Content-Length, or with
// -chunked Transfer-Encoding: chunked in 1 to 4 chunks), whose response
// must be 200 with the same body. Responses are parsed strictly (status
// line, header fields, body by Content-Length or chunked with trailers)
// and each must also carry Date and Server headers and a Content-Length,
// if any, equal to the body's length. A wrong status, header or body is a
// mismatch; a response that cannot be parsed, or that says
// Connection: close unasked, is a protocol error that ends the
// connection. With -close each connection's last request carries
// Connection: close (when a run ends by time, one more such request is
// sent, and counted) and the server must then close.
//
// Exit status: 0 if every reply matched and no connection failed, 1 if not,
// 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/simple-server/simpleserver/protocol/hello"
)

func main() {
	// Ctrl-C ends the run like -d does: stop sending, drain, report.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the flags that shape output rather than the run.
type options struct {
	json  bool
	quiet bool
}

// errReported marks a flag error the flag package has already printed.
var errReported = errors.New("flag error already reported")

// realMain is main without the process: tests call it with their own
// arguments and writers and check the exit status it returns.
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, opts, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "simple-client: %v\n(run simple-client -h for usage)\n", err)
		return 2
	}
	if !opts.quiet {
		cfg.Progress = stderr
	}
	if cfg.Hold {
		// Always said, -q or not: a harness waits for this line to measure
		// the server with every connection open.
		cfg.OnHold = func(held int) {
			fmt.Fprintf(stderr, "simple-client: holding %d connections\n", held)
		}
	}
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "simple-client: %v\n", err)
		return 2
	}
	if opts.json {
		err = res.writeJSON(stdout)
	} else {
		err = res.writeText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "simple-client: writing result: %v\n", err)
		return 1
	}
	return res.ExitCode()
}

// parseFlags turns the command line into a Config, loading the payloads,
// and rejects every value that could not make a meaningful run.
func parseFlags(args []string, stderr io.Writer) (Config, options, error) {
	fs := flag.NewFlagSet("simple-client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg  Config
		opts options
		file string
		size int
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:19920", `server address: host:port, or "unix:/path" for a Unix socket`)
	fs.StringVar(&cfg.Proto, "proto", "hello", "protocol: hello (length-prefixed, prefixed replies), echo (raw bytes back) or http (HTTP/1.1 keep-alive: GET /plaintext, or POST /echo with -size)")
	fs.IntVar(&cfg.Conns, "c", 100, "connections")
	fs.IntVar(&cfg.Pipeline, "pipeline", 1, "requests in flight per connection")
	fs.Int64Var(&cfg.N, "n", 0, "total requests, spread exactly over the connections (0 = run for -d)")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "how long to send; when -n is given, only a cap if set explicitly")
	fs.StringVar(&file, "file", "", "text file whose non-empty lines are the payloads (default: built-in text); with -size, the text the payloads are cut from")
	fs.IntVar(&size, "size", 0, "payload bytes: echo message size (0 means 64); for hello, >0 sends generated payloads of exactly this size instead of lines; for http, >0 sends POST /echo with bodies of this size instead of GET /plaintext")
	fs.BoolVar(&cfg.Chunked, "chunked", false, "http with -size: send the POST bodies with Transfer-Encoding: chunked (1 to 4 chunks of varied size) instead of Content-Length")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "deadline for each reply (and each dial and write)")
	fs.BoolVar(&opts.json, "json", false, "print the result as JSON")
	fs.BoolVar(&opts.quiet, "q", false, "no progress line")
	fs.BoolVar(&cfg.Close, "close", false, "end each connection with the close request (hello), a half-close (echo) or Connection: close on its last request (http), and expect EOF")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: requests/s in total, sent on a fixed schedule; latency counts from each request's due time (0: closed loop)")
	fs.BoolVar(&cfg.Hold, "hold", false, "send one request per connection, then hold every connection open and silent until -d ends")
	fs.IntVar(&cfg.Churn, "churn", 0, "close each connection after this many replies and dial a new one, for the whole run (0: keep connections); hello and echo")
	fs.BoolVar(&cfg.Retry, "retry", false, "when a connection ends (EOF or reset) before any byte of its oldest outstanding reply arrived, resend the outstanding requests on a new connection (counted as retried) instead of failing; hello and echo")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: simple-client [flags]\n\nLoad generator and verifier for simple-server.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, opts, err
		}
		return cfg, opts, errReported
	}
	if fs.NArg() > 0 {
		return cfg, opts, fmt.Errorf("unexpected arguments %q (all settings are flags)", fs.Args())
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "d" })
	if cfg.N > 0 && !durationSet {
		cfg.Duration = 0 // -n alone runs to completion however long it takes
	}

	switch cfg.Proto {
	case "hello", "echo", "http":
	default:
		return cfg, opts, fmt.Errorf("-proto must be hello, echo or http (got %q)", cfg.Proto)
	}
	switch {
	case cfg.Chunked && cfg.Proto != "http":
		return cfg, opts, errors.New("-chunked is for -proto http")
	case cfg.Chunked && size == 0:
		return cfg, opts, errors.New("-chunked needs request bodies: give -size")
	case cfg.Proto == "http" && size == 0 && file != "":
		return cfg, opts, errors.New("-file has no effect with -proto http unless -size is given (GET /plaintext sends no payload)")
	}
	switch {
	case size < 0:
		return cfg, opts, fmt.Errorf("-size must not be negative (got %d)", size)
	case cfg.Proto == "hello" && size > hello.DefaultMaxFrame:
		return cfg, opts, fmt.Errorf("-size %d exceeds the hello frame limit of %d bytes", size, hello.DefaultMaxFrame)
	case (cfg.Proto == "echo" || cfg.Proto == "http") && size > maxEchoSize:
		return cfg, opts, fmt.Errorf("-size %d exceeds the %s limit of %d bytes", size, cfg.Proto, maxEchoSize)
	}

	lines := splitLines(builtinText)
	if file != "" {
		var err error
		if lines, err = readLines(file); err != nil {
			return cfg, opts, fmt.Errorf("-file: %w", err)
		}
	}
	if cfg.Proto == "echo" && size == 0 {
		size = 64
	}
	if size > 0 {
		cfg.Payloads = generatePayloads(lines, size, generatedPayloads)
	} else if cfg.Proto == "http" {
		cfg.Payloads = nil // GET /plaintext
	} else {
		cfg.Payloads = lines
	}
	if err := cfg.validate(); err != nil {
		if file != "" {
			err = fmt.Errorf("%w (in -file %s)", err, file)
		}
		return cfg, opts, err
	}
	return cfg, opts, nil
}
