package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"

	"github.com/simple-server/simpleserver/protocol/hello"
)

// builtinText supplies the payloads when -file is not given, so the client
// works out of the box with no files beside it.
//
//go:embed text.txt
var builtinText []byte

// generatedPayloads is how many distinct fixed-size payloads -size makes.
// More than one, so a reply delivered to the wrong request (reordering,
// a stale buffer in the server) shows up as a mismatch.
const generatedPayloads = 16

// maxEchoSize bounds -size for echo, which has no frame limit of its own;
// it only stops a typo from allocating gigabytes.
const maxEchoSize = 64 << 20

// splitLines returns the non-empty lines of text, without their line ends.
// The slices alias text.
func splitLines(text []byte) [][]byte {
	var lines [][]byte
	for line := range bytes.SplitSeq(text, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 {
			lines = append(lines, line)
		}
	}
	return lines
}

// readLines reads path and returns its non-empty lines. It is an error for
// the file to have none: a run with nothing to send measures nothing.
func readLines(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := splitLines(data)
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s has no non-empty lines", path)
	}
	return lines, nil
}

// generatePayloads makes count payloads of exactly size bytes each, cut
// from text (its lines joined by spaces, repeated as often as needed) at
// staggered offsets, so they are readable and differ from one another.
func generatePayloads(text [][]byte, size, count int) [][]byte {
	src := bytes.Join(text, []byte(" "))
	out := make([][]byte, count)
	for j := range out {
		p := make([]byte, size)
		off := j * len(src) / count
		for i := range p {
			p[i] = src[(off+i)%len(src)]
		}
		out[j] = p
	}
	return out
}

// wire holds, for every payload, the exact bytes sent and the exact reply
// expected (for http: the body of the response), computed once so the hot
// loop only copies and compares.
type wire struct {
	frames   [][]byte
	replies  [][]byte
	maxFrame int
	maxReply int       // for http an estimate: headers vary
	http     *httpWire // -proto http only
}

// minReply is the fewest bytes the reply to payload i can have.
func (w *wire) minReply(i int32) int {
	if w.http != nil {
		return httpMinResponse + len(w.replies[i])
	}
	return len(w.replies[i])
}

// newWire builds the wire of c's protocol and payloads.
func (c *Config) newWire() (*wire, error) {
	if c.Chunked && c.Proto != "http" {
		return nil, errors.New("-chunked is for -proto http")
	}
	if c.Proto == "http" {
		return newHTTPWire(httpHost(c.Addr), c.Payloads, c.Chunked)
	}
	return newWire(c.Proto, c.Payloads)
}

func newWire(proto string, payloads [][]byte) (*wire, error) {
	w := &wire{frames: make([][]byte, len(payloads)), replies: make([][]byte, len(payloads))}
	for i, p := range payloads {
		if len(p) == 0 {
			// A zero-length hello request means "close"; an empty echo
			// message would never be answered.
			return nil, errors.New("payloads must not be empty")
		}
		switch proto {
		case "hello":
			if len(p) > hello.DefaultMaxFrame {
				return nil, fmt.Errorf("payload of %d bytes exceeds the hello limit of %d", len(p), hello.DefaultMaxFrame)
			}
			w.frames[i] = hello.AppendRequest(make([]byte, 0, hello.HeaderLen+len(p)), p)
			r := make([]byte, 0, hello.ReplyLen(len(p)))
			w.replies[i] = append(append(r, hello.Prefix...), p...)
		case "echo":
			if len(p) > maxEchoSize {
				return nil, fmt.Errorf("payload of %d bytes exceeds the echo limit of %d", len(p), maxEchoSize)
			}
			// The server returns exactly what it got, so one slice serves both.
			w.frames[i] = p
			w.replies[i] = p
		default:
			return nil, fmt.Errorf("unknown protocol %q (want hello, echo or http)", proto)
		}
		w.maxFrame = max(w.maxFrame, len(w.frames[i]))
		w.maxReply = max(w.maxReply, len(w.replies[i]))
	}
	if len(payloads) == 0 {
		return nil, errors.New("no payloads")
	}
	return w, nil
}
