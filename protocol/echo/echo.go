// Package echo is the echo protocol: every byte received is sent back
// unchanged, with no framing. Serve it with a nil Codec, so that each read
// is one message.
package echo

import "github.com/simple-server/simpleserver"

// Serve writes msg back to its sender.
func Serve(c *simpleserver.Conn, msg []byte) {
	c.Write(msg)
}

// Handler is Serve as a simpleserver.Handler.
var Handler = simpleserver.HandlerFunc(Serve)
