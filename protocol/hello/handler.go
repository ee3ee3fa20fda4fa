package hello

import "github.com/simple-server/simpleserver"

var prefix = []byte(Prefix)

// Serve answers one request: Prefix followed by the payload, queued as one
// write so that concurrent replies never interleave. Use it with Codec;
// it does not block, so it can run on the event loop.
func Serve(c *simpleserver.Conn, payload []byte) {
	c.Writev(prefix, payload)
}

// Handler is Serve as a simpleserver.Handler.
var Handler = simpleserver.HandlerFunc(Serve)
