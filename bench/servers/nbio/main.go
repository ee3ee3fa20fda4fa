// Command nbio serves hello or echo with github.com/lesismal/nbio as its
// README shows: an Engine with one poller and an OnData handler; the
// incomplete tail of a hello frame is kept in the connection's session,
// and every reply of one read leaves in one Conn.Write.
package main

import (
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio"

	"github.com/simple-server/simpleserver/bench/internal/wire"
)

// session holds the start of a frame not complete yet.
type session struct{ in []byte }

func main() {
	cfg := wire.Flags("127.0.0.1:19923")
	engine := nbio.NewEngine(nbio.Config{
		Network: "tcp",
		Addrs:   []string{cfg.Addr},
		NPoller: 1,
	})
	var out []byte // one poller goroutine: one batch buffer; Write copies what it cannot send
	if cfg.Proto == "echo" {
		engine.OnData(func(c *nbio.Conn, data []byte) {
			c.Write(data) // nbio copies whatever the socket does not take
		})
	} else {
		engine.OnOpen(func(c *nbio.Conn) { c.SetSession(&session{}) })
		engine.OnData(func(c *nbio.Conn, data []byte) {
			s := c.Session().(*session)
			in := data
			if len(s.in) > 0 {
				s.in = append(s.in, data...)
				in = s.in
			}
			var consumed int
			var closing bool
			var err error
			out, consumed, closing, err = wire.AppendReplies(out[:0], in)
			if len(out) > 0 {
				c.Write(out)
			}
			if closing {
				if err != nil {
					log.Printf("closing %v: %v", c.RemoteAddr(), err)
				}
				c.Close()
				return
			}
			rest := in[consumed:]
			switch {
			case len(rest) == 0:
				s.in = s.in[:0]
			case len(s.in) > 0:
				s.in = s.in[:copy(s.in, rest)]
			default:
				s.in = append(s.in[:0], rest...)
			}
		})
	}
	if err := engine.Start(); err != nil {
		log.Fatal(err)
	}
	log.Printf("nbio %s listening on %s", cfg.Proto, cfg.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	engine.Stop()
}
