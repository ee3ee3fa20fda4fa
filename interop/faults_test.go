package interop

// Network faults between clients and the server, injected by toxiproxy
// (github.com/Shopify/toxiproxy/v2, its Go library, run in-process on
// 127.0.0.1 ports): latency with jitter, a bandwidth limit, the slicer
// (tiny segments with delays), reset_peer and timeout.
//
// For every toxic, 50 connections pipeline hello requests through the
// proxy. A connection either survives (every reply correct and in order)
// or dies; every death is counted by cause and logged, and
// survived + died == started. Toxics that only slow or fragment the
// stream (latency, bandwidth, slicer) must kill nothing.
//
// Each client pipelines a round of requests in one write and reads the
// round's replies before writing the next: besides being a common client
// pattern, it keeps toxiproxy's own goroutines from leaking (its
// reset_peer and timeout toxics stop reading their input when they fire,
// so data written after that would block a proxy goroutine for good, and
// goleak would rightly fail the package).

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
	"github.com/simple-server/simpleserver/protocol/relay"
)

const (
	fltConns  = 50
	fltRounds = 5
	fltPerRnd = 10 // requests pipelined per round, in one write
	// fltReplyWait bounds each round's wait for its replies. The slowest
	// healthy round (bandwidth) takes well under a second; the timeout
	// toxic closes a connection 300 ms after its last byte.
	fltReplyWait = 10 * time.Second
)

// fltToxic is one fault to inject: toxiproxy toxics as JSON, as its HTTP
// API takes them.
type fltToxic struct {
	name   string
	toxics []string
	// kills: the toxic may end connections (it acts on a random half of
	// them). Otherwise every connection must survive.
	kills bool
	// reachesServer: the requests of the first round reach the server
	// even on a connection the toxic kills (they are answered, and the
	// answers dropped by the proxy).
	reachesServer bool
	// payload is the size of each request's payload.
	payload int
}

var fltToxics = []fltToxic{
	{
		name: "latency",
		toxics: []string{
			`{"name":"latency_up","type":"latency","stream":"upstream","attributes":{"latency":10,"jitter":10}}`,
			`{"name":"latency_down","type":"latency","stream":"downstream","attributes":{"latency":10,"jitter":10}}`,
		},
		payload: 32,
	},
	{
		// 64 KB/s each way per connection; each connection's 50 replies
		// of 1 KiB take most of a second.
		name: "bandwidth",
		toxics: []string{
			`{"name":"bandwidth_up","type":"bandwidth","stream":"upstream","attributes":{"rate":64}}`,
			`{"name":"bandwidth_down","type":"bandwidth","stream":"downstream","attributes":{"rate":64}}`,
		},
		payload: 1000,
	},
	{
		// Requests cut into 1-5 byte segments, replies into 1-9, with
		// 100-200 µs between segments: frames split at every offset,
		// headers included.
		name: "slicer",
		toxics: []string{
			`{"name":"slicer_up","type":"slicer","stream":"upstream","attributes":{"average_size":3,"size_variation":2,"delay":200}}`,
			`{"name":"slicer_down","type":"slicer","stream":"downstream","attributes":{"average_size":5,"size_variation":4,"delay":100}}`,
		},
		payload: 32,
	},
	{
		// On half the connections the first requests are swallowed and,
		// 50 ms later, both sides are reset.
		name: "reset_peer",
		toxics: []string{
			`{"name":"reset_up","type":"reset_peer","stream":"upstream","toxicity":0.5,"attributes":{"timeout":50}}`,
		},
		kills:   true,
		payload: 32,
	},
	{
		// On half the connections the replies are swallowed and the
		// client's connection closed after 300 ms of silence.
		name: "timeout",
		toxics: []string{
			`{"name":"timeout_down","type":"timeout","stream":"downstream","toxicity":0.5,"attributes":{"timeout":300}}`,
		},
		kills:         true,
		reachesServer: true,
		payload:       32,
	},
}

// fltProxy runs a toxiproxy proxy from a random 127.0.0.1 port to
// upstream with the given toxics, and returns its address. It is stopped
// when the test ends.
func fltProxy(t *testing.T, upstream string, toxics []string) string {
	t.Helper()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "simpleserver", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	for _, js := range toxics {
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
			t.Fatalf("toxic %s: %v", js, err)
		}
	}
	return p.Listen
}

// fltOutcome is what became of one connection.
type fltOutcome struct {
	replies int   // correct replies, in order
	died    error // why it ended early; nil if it survived
	wrong   error // a wrong or out-of-order reply: the test fails
}

// fltPayload is request seq of connection id, padded to size bytes.
func fltPayload(id, seq, size int) []byte {
	p := fmt.Appendf(nil, "c%02d r%03d ", id, seq)
	return append(p, bytes.Repeat([]byte("."), size-len(p))...)
}

// fltClient makes fltRounds rounds of fltPerRnd pipelined requests and
// checks every reply. It stops at the first failure, which is a death
// (the connection ended) or a wrong reply.
func fltClient(addr string, id, size int) (o fltOutcome) {
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		o.died = fmt.Errorf("dial: %w", err)
		return o
	}
	defer c.Close()
	br := bufio.NewReader(c)
	got := make([]byte, hello.ReplyLen(size))
	for r := range fltRounds {
		c.SetDeadline(time.Now().Add(fltReplyWait))
		var req []byte
		for i := range fltPerRnd {
			req = hello.AppendRequest(req, fltPayload(id, r*fltPerRnd+i, size))
		}
		if _, err := c.Write(req); err != nil {
			o.died = fmt.Errorf("write, round %d: %w", r, err)
			return o
		}
		for i := range fltPerRnd {
			seq := r*fltPerRnd + i
			if _, err := io.ReadFull(br, got); err != nil {
				o.died = fmt.Errorf("reply %d: %w", seq, err)
				return o
			}
			if want := append([]byte(hello.Prefix), fltPayload(id, seq, size)...); !bytes.Equal(got, want) {
				o.wrong = fmt.Errorf("reply %d = %q, want %q", seq, got, want)
				return o
			}
			o.replies++
		}
	}
	return o
}

// TestFaultToxics runs 50 pipelining connections through each toxic,
// then checks that no goroutine of the proxy or the server is left.
func TestFaultToxics(t *testing.T) {
	for _, tx := range fltToxics {
		t.Run(tx.name, func(t *testing.T) {
			t.Run("50 conns", func(t *testing.T) { testFaultToxic(t, tx, false) })
			// Its cleanups stopped the proxy and the server.
			goleak.VerifyNone(t)
		})
	}
}

// The same faults between protocol/relay and its upstream: the clients
// talk to a relay whose upstream is the toxic proxy in front of the
// server. Every connection's fate through the relay must be what it is
// without it, and the relay must end up holding nothing.
func TestFaultToxicsThroughRelay(t *testing.T) {
	for _, tx := range fltToxics {
		t.Run(tx.name, func(t *testing.T) {
			t.Run("50 conns", func(t *testing.T) { testFaultToxic(t, tx, true) })
			goleak.VerifyNone(t)
		})
	}
}

func testFaultToxic(t *testing.T, tx fltToxic, viaRelay bool) {
	srv, closes := recordingServer()
	proxy := fltProxy(t, start(t, srv), tx.toxics)
	var rl *simpleserver.Server
	if viaRelay {
		rl = &simpleserver.Server{Loops: 2, Logger: slog.New(slog.DiscardHandler)}
		r := &relay.Relay{Upstreams: []string{proxy}}
		if err := r.Configure(rl); err != nil {
			t.Fatal(err)
		}
		proxy = start(t, rl)
	}

	began := time.Now()
	outcomes := make([]fltOutcome, fltConns)
	var wg sync.WaitGroup
	for id := range fltConns {
		wg.Go(func() { outcomes[id] = fltClient(proxy, id, tx.payload) })
	}
	wg.Wait() // bounded: every wait of a client has fltReplyWait

	survived, died := 0, 0
	causes := map[string]int{}
	var replies int
	var firstRoundOnDead int
	for id, o := range outcomes {
		replies += o.replies
		switch {
		case o.wrong != nil:
			t.Errorf("connection %d: %v", id, o.wrong)
		case o.died != nil:
			died++
			causes[endCause(o.died)]++
			if o.replies == 0 {
				firstRoundOnDead++
			}
			if !tx.kills {
				t.Errorf("connection %d died under %s after %d replies: %v", id, tx.name, o.replies, o.died)
			}
		default:
			survived++
			if o.replies != fltRounds*fltPerRnd {
				t.Errorf("connection %d survived with %d replies, want %d", id, o.replies, fltRounds*fltPerRnd)
			}
		}
	}
	t.Logf("%s: %d connections started, %d survived with every reply correct and in order, %d died %v; %d replies in %v",
		tx.name, fltConns, survived, died, causes, replies, time.Since(began).Round(time.Millisecond))
	if survived+died != fltConns {
		t.Errorf("%d survived + %d died != %d started: a connection went unaccounted for", survived, died, fltConns)
	}
	if causes["hung"] != 0 || causes["other"] != 0 {
		t.Errorf("connections died of unexpected causes: %v", causes)
	}
	if tx.kills && died == 0 {
		t.Errorf("%s (on half the connections) killed none of %d", tx.name, fltConns)
	}

	// Every connection reached the server and is closed there once the
	// clients are gone; what the server handled is exactly what the
	// clients' fates imply.
	closes.wait(t, fltConns)
	st := srv.Stats()
	wantIn := uint64(replies)
	if tx.reachesServer {
		// A dead connection's first round reached the server, which
		// answered it; the proxy dropped the answers.
		wantIn += uint64(firstRoundOnDead * fltPerRnd)
	}
	if st.Accepted != fltConns || st.Open != 0 || st.MessagesIn != wantIn || st.MessagesOut != wantIn || st.BytesQueued != 0 {
		t.Errorf("stats = %+v; want %d accepted, none open, %d messages in and out", st, fltConns, wantIn)
	}
	if rl != nil {
		for end := time.Now().Add(replyWait); rl.Stats().Open != 0 && time.Now().Before(end); time.Sleep(time.Millisecond) {
		}
		if st := rl.Stats(); st.Open != 0 || st.BytesQueued != 0 || st.Closed.Dial != 0 {
			t.Errorf("relay stats = %+v; want nothing open or queued, no failed dial", st)
		}
	}
	if tx.kills && died != firstRoundOnDead {
		// Both toxics act on the first bytes, so a connection they kill
		// has had no reply at all.
		t.Errorf("%d connections died, %d of them before any reply; want all before any reply", died, firstRoundOnDead)
	}
}
