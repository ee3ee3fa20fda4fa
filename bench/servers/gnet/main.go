// Command gnet serves hello or echo with github.com/panjf2000/gnet/v2 as
// its examples do: an OnTraffic handler that decodes every complete frame
// in the inbound buffer and writes all the replies at once, one event
// loop (multicore off), the library's defaults otherwise.
package main

import (
	"log"

	"github.com/panjf2000/gnet/v2"

	"github.com/simple-server/simpleserver/bench/internal/wire"
)

type server struct {
	gnet.BuiltinEventEngine
	echo bool
	out  []byte // this loop's reply batch; gnet copies what the socket does not take
}

func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	log.Printf("gnet listening")
	return gnet.None
}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	if s.echo {
		buf, _ := c.Next(-1)
		c.Write(buf)
		return gnet.None
	}
	in, _ := c.Peek(-1) // everything buffered: kept partial frame + this read
	out, consumed, closing, err := wire.AppendReplies(s.out[:0], in)
	s.out = out
	if len(out) > 0 {
		c.Write(out)
	}
	if err != nil {
		log.Printf("closing %v: %v", c.RemoteAddr(), err)
	}
	if closing {
		return gnet.Close // gnet flushes the outbound buffer before closing
	}
	if consumed > 0 { // Discard(0) would discard everything
		c.Discard(consumed) // the rest stays in gnet's inbound buffer
	}
	return gnet.None
}

func main() {
	cfg := wire.Flags("127.0.0.1:19922")
	s := &server{echo: cfg.Proto == "echo"}
	log.Fatal(gnet.Run(s, "tcp://"+cfg.Addr, gnet.WithMulticore(false), gnet.WithNumEventLoop(1), gnet.WithReuseAddr(true)))
}
