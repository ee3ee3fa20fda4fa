package simpleserver

import (
	"fmt"
	"runtime/debug"

	"github.com/simple-server/simpleserver/internal/buffer"
	"github.com/simple-server/simpleserver/worker"
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

// workQueue is a connection's place on the workers while it has work
// queued or running: a worker.Serial, which keeps the connection's
// messages and offloaded functions in order. A connection holds one only
// while it has work, so an HTTP keep-alive connection between requests
// holds no worker memory (bench/RESULTS.md, (h5)): the loop takes one from
// its spares when a connection first needs it and gives it back once the
// Serial is idle. Owned by the loop; a worker reads owner only while it
// runs owner's work, which the Serial's mutex orders before the loop's
// give-back.
type workQueue struct {
	serial   *worker.Serial[job]
	owner    *Conn  // nil while spare
	notified func() // the Serial's notify, as a loop task (made once)
}

// maxSpareWork bounds each loop's spare work queues: the connections busy
// at once on a busy loop reuse them, and a burst beyond that leaves its
// extra ones to the collector.
const maxSpareWork = 256

// takeWork returns c's work queue, giving it one if it has none. On the
// loop.
func (l *loop) takeWork(c *Conn) *workQueue {
	if w := l.work[c]; w != nil {
		return w
	}
	var w *workQueue
	if n := len(l.spareWork); n > 0 {
		w = l.spareWork[n-1]
		l.spareWork[n-1] = nil
		l.spareWork = l.spareWork[:n-1]
	} else {
		w = &workQueue{}
		w.notified = func() { l.workerNotified(w) }
		w.serial = worker.NewSerial(l.srv.pool, l.srv.workerQueue,
			func(j job) { w.owner.serveOffloaded(j) }, func() { l.post(w.notified) })
	}
	w.owner = c
	l.work[c] = w
	l.workPeak = max(l.workPeak, len(l.work))
	return w
}

// workQueued is called after work was pushed to w: it gives w back if
// the workers are done with it already, and otherwise asks to hear when
// they are (workerNotified), so that every work queue taken is given
// back. On the loop.
func (l *loop) workQueued(w *workQueue) {
	if w.owner == nil || !w.serial.WhenIdle() {
		return
	}
	delete(l.work, w.owner)
	w.owner = nil
	if len(l.work) == 0 && l.workPeak > maxSpareWork {
		// A map keeps its buckets when emptied: after a burst, start
		// a small one so idle connections do not pay for the burst.
		l.work, l.workPeak = map[*Conn]*workQueue{}, 0
	}
	if len(l.spareWork) < maxSpareWork {
		l.spareWork = append(l.spareWork, w)
	}
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
	if !c.isClosing() {
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
	l := c.loop
	if l.srv.pool == nil {
		panic("simpleserver: Conn.Offload needs Server.Workers > 0")
	}
	w := l.takeWork(c)
	if w.serial.Push(job{fn: f}) {
		c.pauseFor(pauseWorker)
	}
	l.workQueued(w)
}

// workerNotified runs on the loop when w's Serial drained to half its
// limit (resume reading) or became idle (settle a stopping connection,
// give w back). A notification may cross a give-back, and find w spare or
// another connection's: what it does depends only on the state it finds.
func (l *loop) workerNotified(w *workQueue) {
	c := w.owner
	switch {
	case c == nil:
		return
	case c.fd < 0: // closed: only give w back
	case c.stopped:
		l.settle(c)
	case c.pause&pauseWorker != 0 && w.serial.Len() <= l.srv.workerQueue/2:
		c.resumeFor(pauseWorker)
		// Edge-triggered: whatever arrived while paused raised its edge
		// already, so read now rather than wait for another.
		l.read(c)
	}
	l.workQueued(w)
}
