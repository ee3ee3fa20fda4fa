// Command evio serves hello or echo with github.com/tidwall/evio as its
// README and examples show: a Data event that returns the bytes to write,
// an evio.InputStream per connection for frames split across reads, one
// loop, and ReuseInputBuffer (the input stream copies what it keeps).
// Every complete frame of a read is answered in the one out slice.
package main

import (
	"log"

	"github.com/tidwall/evio"

	"github.com/simple-server/simpleserver/bench/internal/wire"
)

func main() {
	cfg := wire.Flags("127.0.0.1:19925")
	var events evio.Events
	events.NumLoops = 1
	events.Serving = func(s evio.Server) evio.Action {
		log.Printf("evio %s listening on %s", cfg.Proto, cfg.Addr)
		return evio.None
	}
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		c.SetContext(&evio.InputStream{})
		return nil, evio.Options{ReuseInputBuffer: true}, evio.None
	}
	var out []byte // one loop: one reply buffer; evio copies out into the connection
	if cfg.Proto == "echo" {
		events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
			return in, evio.None
		}
	} else {
		events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
			is := c.Context().(*evio.InputStream)
			data := is.Begin(in)
			var consumed int
			var closing bool
			var err error
			out, consumed, closing, err = wire.AppendReplies(out[:0], data)
			if closing {
				if err != nil {
					log.Printf("closing %v: %v", c.RemoteAddr(), err)
				}
				return out, evio.Close // written first, then closed
			}
			is.End(data[consumed:])
			return out, evio.None
		}
	}
	log.Fatal(evio.Serve(events, "tcp://"+cfg.Addr))
}
