// Command net serves hello or echo with Go's net package the idiomatic
// way: a goroutine per connection, a bufio.Reader and a bufio.Writer, and
// replies batched until the reader runs dry: the writer is flushed only
// when the reader has no complete request left buffered, so pipelined
// requests that arrived together are answered with one write.
package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"log"
	"net"

	"github.com/simple-server/simpleserver/bench/internal/wire"
)

func main() {
	cfg := wire.Flags("127.0.0.1:19921")
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("net %s listening on %s", cfg.Proto, ln.Addr())
	serve := serveHello
	if cfg.Proto == "echo" {
		serve = serveEcho
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			serve(c)
		}()
	}
}

var prefix = []byte(wire.Prefix)

func serveHello(c net.Conn) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	defer bw.Flush()
	var big []byte
	for {
		hdr, err := br.Peek(wire.HeaderLen)
		if err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(hdr))
		switch {
		case n == 0:
			return // close request: flush what is due (deferred), close
		case n > wire.MaxFrame:
			log.Printf("closing %v: frame of %d bytes", c.RemoteAddr(), n)
			return
		}
		br.Discard(wire.HeaderLen)
		bw.Write(prefix)
		if n <= br.Size() {
			payload, err := br.Peek(n)
			if err != nil {
				return
			}
			bw.Write(payload)
			br.Discard(n)
		} else {
			// Larger than the read buffer: read it whole.
			if cap(big) < n {
				big = make([]byte, n)
			}
			if _, err := io.ReadFull(br, big[:n]); err != nil {
				return
			}
			bw.Write(big[:n])
		}
		// Flush only when no further request is already buffered: replies
		// to requests that arrived together leave in one write.
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

func serveEcho(c net.Conn) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for {
		if _, err := br.Peek(1); err != nil { // block until something arrives
			bw.Flush()
			return
		}
		data, _ := br.Peek(br.Buffered())
		bw.Write(data)
		br.Discard(len(data))
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}
