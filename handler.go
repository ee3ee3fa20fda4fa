package simpleserver

// Handler handles one message cut from a connection's stream by the
// server's Codec.
//
// With Server.Workers == 0 ServeMessage runs on the connection's event loop
// and must not block: every other connection of that loop waits for it.
// With Workers > 0 it runs on a worker goroutine, and may block; the
// messages of one connection are still handled one at a time, in order.
//
// msg is valid only until ServeMessage returns (it points into a buffer
// that is reused); copy it to keep it. A panic is recovered, logged with
// its stack, and closes only this connection.
type Handler interface {
	ServeMessage(c *Conn, msg []byte)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(c *Conn, msg []byte)

// ServeMessage calls f(c, msg).
func (f HandlerFunc) ServeMessage(c *Conn, msg []byte) { f(c, msg) }
