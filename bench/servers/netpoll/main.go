// Command netpoll serves hello or echo with github.com/cloudwego/netpoll
// as its guide shows: an EventLoop with an OnRequest handler that uses the
// nocopy Reader and Writer (Peek/Skip/Next, Malloc, Flush, Release), one
// poller, gopool running the handler. The handler answers every complete
// frame already buffered, then flushes once; when a frame is incomplete it
// flushes what is due first and then lets the Reader wait for the rest, as
// netpoll expects a handler to either consume its input or close.
package main

import (
	"context"
	"encoding/binary"
	"log"

	"github.com/cloudwego/netpoll"

	"github.com/simple-server/simpleserver/bench/internal/wire"
)

func main() {
	cfg := wire.Flags("127.0.0.1:19924")
	if err := netpoll.Configure(netpoll.Config{PollerNum: 1}); err != nil {
		log.Fatal(err)
	}
	ln, err := netpoll.CreateListener("tcp", cfg.Addr)
	if err != nil {
		log.Fatal(err)
	}
	handle := handleHello
	if cfg.Proto == "echo" {
		handle = handleEcho
	}
	loop, err := netpoll.NewEventLoop(handle)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("netpoll %s listening on %s", cfg.Proto, ln.Addr())
	log.Fatal(loop.Serve(ln))
}

func handleHello(ctx context.Context, conn netpoll.Connection) error {
	r, w := conn.Reader(), conn.Writer()
	defer r.Release()
	for r.Len() > 0 {
		need := wire.HeaderLen
		n := 0
		if r.Len() >= wire.HeaderLen {
			hdr, _ := r.Peek(wire.HeaderLen)
			n = int(binary.LittleEndian.Uint32(hdr))
			switch {
			case n == 0:
				r.Skip(wire.HeaderLen)
				flush(w)
				return conn.Close()
			case n > wire.MaxFrame:
				log.Printf("closing %v: frame of %d bytes", conn.RemoteAddr(), n)
				flush(w)
				return conn.Close()
			}
			need += n
		}
		if r.Len() < need {
			// Incomplete: send what is due, then wait for the rest.
			if err := flush(w); err != nil {
				return err
			}
			if _, err := r.Peek(need); err != nil {
				return err
			}
			continue
		}
		r.Skip(wire.HeaderLen)
		payload, err := r.Next(n)
		if err != nil {
			return err
		}
		buf, _ := w.Malloc(len(wire.Prefix) + n)
		copy(buf[copy(buf, wire.Prefix):], payload)
	}
	return flush(w)
}

func handleEcho(ctx context.Context, conn netpoll.Connection) error {
	r, w := conn.Reader(), conn.Writer()
	defer r.Release()
	data, err := r.Next(r.Len())
	if err != nil {
		return err
	}
	buf, _ := w.Malloc(len(data))
	copy(buf, data)
	return w.Flush()
}

func flush(w netpoll.Writer) error {
	if w.MallocLen() == 0 {
		return nil
	}
	return w.Flush()
}
