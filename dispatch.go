package simpleserver

import (
	"fmt"
	"runtime/debug"

	"github.com/simple-server/simpleserver/internal/buffer"
)

// serve runs the handler for one message, on the loop or on a worker. A
// panic closes only this connection.
func (c *Conn) serve(msg []byte) {
	c.protect(func() { c.cb().handler.ServeMessage(c, msg) })
}

// protect runs f; a panic in it is logged with its stack and closes c.
func (c *Conn) protect(f func()) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("%w: %v", ErrHandlerPanic, r)
			c.loop.srv.logger().Error("handler panicked; closing its connection",
				"remote", c.RemoteAddr().String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.setReason(kindPanic, err)
			c.Close()
		}
	}()
	f()
}

// serveOffloaded is the worker.Serial function. A message is a copy: it is
// handled and released. Messages queued before a Close are dropped, not
// handled: their replies could not be sent. Offloaded functions always
// run, so that they can release what they hold.
func (c *Conn) serveOffloaded(j job) {
	if j.fn != nil {
		c.protect(j.fn)
		return
	}
	if !c.closing.Load() {
		c.serve(j.msg)
	}
	buffer.Put(j.msg)
}

// Offload runs f on a worker of the server's pool (Server.Workers must be
// positive), after every function and message of c offloaded earlier has
// been handled: one at a time and in order, while other connections' work
// runs in parallel. f runs even if c has closed by then (its methods then
// return ErrConnClosed), so that it can release what it holds. A panic in
// f is recovered, logged, and closes c. When WorkerQueue functions of c
// wait, the loop stops reading c until half of them have run. On the loop.
func (c *Conn) Offload(f func()) {
	s := c.serial()
	if s == nil {
		panic("simpleserver: Conn.Offload needs Server.Workers > 0")
	}
	if s.Push(job{fn: f}) {
		c.pauseFor(pauseWorker)
	}
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
		c.resumeFor(pauseWorker)
		// Edge-triggered: whatever arrived while paused raised its edge
		// already, so read now rather than wait for another.
		l.read(c)
	}
}
