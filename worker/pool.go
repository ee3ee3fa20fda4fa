// Package worker runs blocking work off the event loops: a fixed set of
// goroutines (Pool) and, on top of it, per-connection FIFOs (Serial) whose
// items are handled one at a time and in order.
package worker

import (
	"sync"
	"sync/atomic"
)

// runner is something scheduled on a Pool. run returns true when it wants
// to run again (it has more work but yields for fairness).
type runner interface {
	run() bool
}

// Pool is a fixed number of goroutines taking runners from one FIFO.
//
// The FIFO holds each Serial at most once (a Serial is scheduled only while
// it is not already scheduled or running), so its length is bounded by the
// number of Serials, that is, connections; the bound on queued *work* is
// each Serial's own limit. That is why submitting never blocks and never
// fails.
type Pool struct {
	mu      sync.Mutex
	cond    sync.Cond
	queue   []runner // ring buffer
	head, n int
	closed  bool
	wg      sync.WaitGroup
	queued  atomic.Int64 // items in the pool's Serials, not yet taken by a worker
}

// NewPool starts n worker goroutines (n >= 1).
func NewPool(n int) *Pool {
	if n < 1 {
		panic("worker: NewPool needs at least one worker")
	}
	p := &Pool{queue: make([]runner, 64)}
	p.cond.L = &p.mu
	p.wg.Add(n)
	for range n {
		go p.work()
	}
	return p
}

// submit appends r to the FIFO. Any goroutine may call it. After Close a
// new runner is dropped (the owner of the Pool closes it only once nothing
// can submit any more), but a runner a worker re-queues (requeue) is kept:
// it is work queued before Close, which Close promises to finish.
func (p *Pool) submit(r runner, requeue bool) {
	p.mu.Lock()
	if p.closed && !requeue {
		p.mu.Unlock()
		return
	}
	if p.n == len(p.queue) {
		grown := make([]runner, 2*len(p.queue))
		for i := range p.n {
			grown[i] = p.queue[(p.head+i)%len(p.queue)]
		}
		p.queue, p.head = grown, 0
	}
	p.queue[(p.head+p.n)%len(p.queue)] = r
	p.n++
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *Pool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for p.n == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.n == 0 {
			p.mu.Unlock()
			return
		}
		r := p.queue[p.head]
		p.queue[p.head] = nil
		p.head = (p.head + 1) % len(p.queue)
		p.n--
		p.mu.Unlock()
		if r.run() {
			p.submit(r, true)
		}
	}
}

// Queued is the number of items pushed to the pool's Serials and not yet
// taken by a worker: the work waiting, which the FIFO's length (Serials)
// does not show. Any goroutine may call it.
func (p *Pool) Queued() int64 { return p.queued.Load() }

// Close lets the workers finish everything already queued, then stops
// them, and waits for that. Any goroutine may call it, once.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}
