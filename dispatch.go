package simpleserver

import (
	"fmt"
	"runtime/debug"

	"github.com/simple-server/simpleserver/internal/buffer"
)

// serve runs the handler for one message, on the loop or on a worker. A
// panic closes only this connection.
func (c *Conn) serve(msg []byte) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("%w: %v", ErrHandlerPanic, r)
			c.loop.srv.logger().Error("handler panicked; closing its connection",
				"remote", c.RemoteAddr().String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.setReason(kindPanic, err)
			c.Close()
		}
	}()
	c.loop.srv.Handler.ServeMessage(c, msg)
}

// serveOffloaded is the worker.Serial function: it handles one copied
// message on a worker and releases the copy. Messages queued before a
// Close are dropped, not handled: their replies could not be sent.
func (c *Conn) serveOffloaded(msg []byte) {
	if !c.closing.Load() {
		c.serve(msg)
	}
	buffer.Put(msg)
}

// workerNotified runs on the loop when c's Serial drained to half its
// limit (resume reading) or became idle (settle a stopping connection).
func (l *loop) workerNotified(c *Conn) {
	if c.fd < 0 {
		return
	}
	if c.stopped {
		l.settle(c)
		return
	}
	if c.pause&pauseWorker != 0 && c.serial().Len() <= l.srv.workerQueue/2 {
		c.pause &^= pauseWorker
		// Edge-triggered: whatever arrived while paused raised its edge
		// already, so read now rather than wait for another.
		l.read(c)
	}
}
