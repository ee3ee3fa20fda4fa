package simpleserver

import "github.com/simple-server/simpleserver/codec"

// callbacks are what serves one connection: the Server's fields for the
// connections it accepts, a Dialer's for the ones it dials. They are fixed
// before the connection is published, and read by the loop without a lock.
type callbacks struct {
	codec          codec.Codec
	handler        Handler
	stream         StreamHandler
	onOpen         func(*Conn)
	onClose        func(*Conn, error)
	onBackpressure func(*Conn, bool)
	onEOF          func(*Conn)
}

// cb returns c's callbacks. Any goroutine.
func (c *Conn) cb() *callbacks {
	if c.dialed {
		return &c.rare.Load().dial.cb
	}
	return &c.loop.srv.cb
}
