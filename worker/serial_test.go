package worker

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNewSerialClampsLimit(t *testing.T) {
	p := newTestPool(t, 1)
	for _, limit := range []int{-5, 0, 1} {
		s := NewSerial(p.Pool, limit, func(int) {}, func() {})
		if s.limit != 1 {
			t.Errorf("NewSerial(limit %d).limit = %d, want 1", limit, s.limit)
		}
	}
}

// Many Serials, one pusher each, on a pool with several workers: every
// Serial sees its items exactly in push order, never two at once.
func TestSerialOrderManySerials(t *testing.T) {
	tests := []struct {
		name                   string
		workers, serials, each int
		limit                  int
		backpressure           bool // pushers wait for notify after a full Push
	}{
		{"1 worker", 1, 16, 500, 1 << 30, false},
		{"2 workers", 2, 64, 1000, 1 << 30, false},
		{"8 workers", 8, 64, 1000, 1 << 30, false},
		{"backpressure limit 8", 4, 32, 1000, 8, true},
		{"backpressure limit 1", 4, 16, 300, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPool(t, tt.workers)
			var fail firstError
			var all sync.WaitGroup
			done := make(chan struct{})
			all.Add(tt.serials)
			for i := range tt.serials {
				var (
					next     int          // only touched by fn
					inflight atomic.Int32 // fn calls of this Serial running now
				)
				notified := make(chan struct{}, 1)
				s := NewSerial(p.Pool, tt.limit, func(v int) {
					if n := inflight.Add(1); n != 1 {
						fail.set(fmt.Sprintf("serial %d: %d items handled at once", i, n))
					}
					if v != next {
						fail.set(fmt.Sprintf("serial %d: got item %d, want %d", i, v, next))
					}
					next = v + 1
					if v%7 == 0 {
						runtime.Gosched() // widen the window for an overlap
					}
					inflight.Add(-1)
					if v == tt.each-1 {
						all.Done()
					}
				}, func() {
					select {
					case notified <- struct{}{}:
					default:
						fail.set(fmt.Sprintf("serial %d: a second notify before the first was consumed", i))
					}
				})
				go func() {
					for v := range tt.each {
						if s.Push(v) && tt.backpressure {
							select {
							case <-notified:
							case <-p.abort:
								return
							}
						}
					}
				}()
			}
			go func() {
				all.Wait()
				close(done)
			}()
			recv(t, done, "every item of every Serial")
			fail.check(t)
		})
	}
}

// Several pushers on one Serial: no overlap, and each pusher's items come
// out in its own order.
func TestSerialOneAtATimeConcurrentPushers(t *testing.T) {
	const pushers, each = 8, 2000
	p := newTestPool(t, 8)
	var fail firstError
	var inflight, maxInflight atomic.Int32
	var count atomic.Int64
	next := make([]int, pushers) // only touched by fn
	done := make(chan struct{})
	type item struct{ pusher, seq int }
	s := NewSerial(p.Pool, 1<<30, func(v item) {
		n := inflight.Add(1)
		if n > maxInflight.Load() {
			maxInflight.Store(n)
		}
		if v.seq != next[v.pusher] {
			fail.set(fmt.Sprintf("pusher %d: got item %d, want %d", v.pusher, v.seq, next[v.pusher]))
		}
		next[v.pusher] = v.seq + 1
		runtime.Gosched()
		inflight.Add(-1)
		if count.Add(1) == pushers*each {
			close(done)
		}
	}, func() {})
	for i := range pushers {
		go func() {
			for seq := range each {
				s.Push(item{i, seq})
			}
		}()
	}
	recv(t, done, "every item")
	fail.check(t)
	if m := maxInflight.Load(); m != 1 {
		t.Fatalf("up to %d items of one Serial ran at once, want 1", m)
	}
}

// Different Serials do run in parallel: each of two items waits for the
// other to have started, which only works if both run at once.
func TestSerialsRunInParallel(t *testing.T) {
	p := newTestPool(t, 2)
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	done := make(chan string, 2)
	a := NewSerial(p.Pool, 10, func(string) {
		close(aStarted)
		p.block(bStarted)
		done <- "a"
	}, func() {})
	b := NewSerial(p.Pool, 10, func(string) {
		close(bStarted)
		p.block(aStarted)
		done <- "b"
	}, func() {})
	a.Push("x")
	b.Push("y")
	recv(t, done, "the first Serial")
	recv(t, done, "the second Serial")
}

// gated is a Serial whose fn reports each item as it starts and then waits
// for the test to release it, so the test controls progress exactly.
type gated struct {
	*Serial[int]
	pool     *testPool
	started  chan int
	release  chan struct{}
	notified chan int // the Len observed inside each notify
}

func newGated(t *testing.T, p *testPool, limit int) *gated {
	g := &gated{
		pool:     p,
		started:  make(chan int),
		release:  make(chan struct{}),
		notified: make(chan int, 64),
	}
	g.Serial = NewSerial(p.Pool, limit, func(v int) {
		select {
		case g.started <- v:
		case <-p.abort:
			return
		}
		p.block(g.release)
	}, func() {
		select {
		case g.notified <- g.Len():
		default:
			t.Errorf("more than 64 notifies")
		}
	})
	return g
}

// push pushes v and checks the full result.
func (g *gated) push(t *testing.T, v int, wantFull bool) {
	t.Helper()
	if full := g.Push(v); full != wantFull {
		t.Fatalf("Push(%d) with Len %d after = %v, want %v (limit %d)", v, g.Len(), full, wantFull, g.limit)
	}
}

// next releases the running item and waits for item v to start.
func (g *gated) next(t *testing.T, v int) {
	t.Helper()
	send(t, g.release, struct{}{}, "releasing an item")
	if got := recv(t, g.started, fmt.Sprintf("item %d to start", v)); got != v {
		t.Fatalf("item %d started, want %d", got, v)
	}
}

// finish releases the running item and waits, through Pool.Close, for the
// Serial to have seen that it is empty.
func (g *gated) finish(t *testing.T) {
	t.Helper()
	send(t, g.release, struct{}{}, "releasing the last item")
	closeWithin(t, g.pool.Pool)
}

func TestSerialFullAndNotify(t *testing.T) {
	for _, limit := range []int{1, 2, 3, 4, 5, 8, 9, 16, 17, 33, 100} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			p := newTestPool(t, 1)
			g := newGated(t, p, limit)

			// Item 0 starts at once and holds the worker; it is not
			// counted by Len. With limit 1 the Push itself is full, and
			// the notify comes as item 0 is taken (Len 0 <= 1/2).
			g.push(t, 0, limit <= 1)
			if got := recv(t, g.started, "item 0 to start"); got != 0 {
				t.Fatalf("item %d started, want 0", got)
			}
			if limit <= 1 {
				if got := recv(t, g.notified, "notify for the full first Push"); got != 0 {
					t.Fatalf("notify saw Len %d, want 0", got)
				}
			}

			// Push until two past the limit: full exactly when Len >= limit.
			last := limit + 2
			for v := 1; v <= last; v++ {
				g.push(t, v, v >= limit)
				if g.Len() != v {
					t.Fatalf("Len = %d after pushing items 1..%d behind a running one", g.Len(), v)
				}
			}
			noValue(t, g.notified, "notify before the Serial drained")

			// Drain one item at a time. The notify comes exactly once, as
			// the item that brings Len to limit/2 is taken (before it
			// runs), and never again, not even when the Serial goes idle.
			for v := 1; v <= last; v++ {
				g.next(t, v)
				if g.Len() != last-v {
					t.Fatalf("Len = %d with item %d running, want %d", g.Len(), v, last-v)
				}
				if last-v == limit/2 {
					if got := recv(t, g.notified, "notify at limit/2"); got != limit/2 {
						t.Fatalf("notify saw Len %d, want %d", got, limit/2)
					}
				}
				noValue(t, g.notified, fmt.Sprintf("notify with Len %d", g.Len()))
			}
			g.finish(t)
			noValue(t, g.notified, "notify after the drain notify")
		})
	}
}

// Without a full Push there is no notify at all.
func TestSerialNoNotifyBelowLimit(t *testing.T) {
	for _, limit := range []int{2, 3, 8, 100} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			p := newTestPool(t, 1)
			g := newGated(t, p, limit)
			g.push(t, 0, false)
			recv(t, g.started, "item 0 to start")
			for v := 1; v < limit; v++ {
				g.push(t, v, false)
			}
			for v := 1; v < limit; v++ {
				g.next(t, v)
			}
			g.finish(t)
			noValue(t, g.notified, "notify though no Push was full")
		})
	}
}

// Every full Push re-arms the notify: a producer that stops after each full
// result and resumes on notify gets exactly one notify per stop.
func TestSerialNotifyRearms(t *testing.T) {
	const limit, rounds = 4, 5
	p := newTestPool(t, 1)
	g := newGated(t, p, limit)
	g.push(t, 0, false)
	recv(t, g.started, "item 0 to start")
	v := 0
	for round := range rounds {
		for g.Len() < limit {
			v++
			g.push(t, v, g.Len()+1 >= limit)
		}
		noValue(t, g.notified, "early notify")
		for g.Len() > limit/2 {
			g.next(t, v-g.Len()+1)
		}
		if got := recv(t, g.notified, fmt.Sprintf("notify of round %d", round)); got != limit/2 {
			t.Fatalf("round %d: notify saw Len %d, want %d", round, got, limit/2)
		}
	}
	for g.Len() > 0 {
		g.next(t, v-g.Len()+1)
	}
	g.finish(t)
	noValue(t, g.notified, "notify after the last round")
}

func TestSerialWhenIdle(t *testing.T) {
	t.Run("new Serial is idle", func(t *testing.T) {
		p := newTestPool(t, 1)
		g := newGated(t, p, 10)
		for range 3 {
			if !g.WhenIdle() {
				t.Fatalf("WhenIdle on a new Serial = false")
			}
		}
		closeWithin(t, p.Pool)
		noValue(t, g.notified, "notify for an idle Serial")
	})

	t.Run("busy Serial notifies once when idle", func(t *testing.T) {
		for _, items := range []int{1, 2, batch, batch + 1, 3*batch + 5} {
			t.Run(fmt.Sprint(items), func(t *testing.T) {
				p := newTestPool(t, 1)
				var handled atomic.Int64
				idleAt := make(chan int64, 8)
				release := make(chan struct{})
				started := make(chan struct{})
				var s *Serial[int]
				s = NewSerial(p.Pool, 1<<20, func(v int) {
					if v == 0 {
						close(started)
						p.block(release)
					}
					handled.Add(1)
				}, func() {
					if !s.WhenIdle() {
						t.Errorf("WhenIdle inside the idle notify = false")
					}
					idleAt <- handled.Load()
				})
				for v := range items {
					s.Push(v)
				}
				recv(t, started, "item 0 to start")
				// Asking twice still gives one notify.
				first := s.WhenIdle()
				second := s.WhenIdle()
				if first || second {
					t.Fatalf("WhenIdle on a Serial running an item = %v, %v; want false, false", first, second)
				}
				close(release)
				if got := recv(t, idleAt, "the idle notify"); got != int64(items) {
					t.Fatalf("idle notify after %d of %d items", got, items)
				}
				if !s.WhenIdle() {
					t.Fatalf("WhenIdle after the idle notify = false")
				}
				closeWithin(t, p.Pool)
				noValue(t, idleAt, "second notify")
			})
		}
	})

	t.Run("items pushed before idle delay the notify", func(t *testing.T) {
		p := newTestPool(t, 1)
		g := newGated(t, p, 100)
		g.push(t, 0, false)
		recv(t, g.started, "item 0 to start")
		if g.WhenIdle() {
			t.Fatalf("WhenIdle on a busy Serial = true")
		}
		g.push(t, 1, false)
		g.next(t, 1)
		noValue(t, g.notified, "notify while item 1 runs")
		g.push(t, 2, false)
		g.next(t, 2)
		noValue(t, g.notified, "notify while item 2 runs")
		send(t, g.release, struct{}{}, "releasing item 2")
		if got := recv(t, g.notified, "the idle notify"); got != 0 {
			t.Fatalf("idle notify saw Len %d", got)
		}
		if !g.WhenIdle() {
			t.Fatalf("WhenIdle after the idle notify = false")
		}
		closeWithin(t, p.Pool)
		noValue(t, g.notified, "second notify")
	})

	t.Run("full and idle are two notifies", func(t *testing.T) {
		const limit = 4
		p := newTestPool(t, 1)
		g := newGated(t, p, limit)
		g.push(t, 0, false)
		recv(t, g.started, "item 0 to start")
		for v := 1; v <= limit; v++ {
			g.push(t, v, v >= limit)
		}
		if g.WhenIdle() {
			t.Fatalf("WhenIdle on a busy Serial = true")
		}
		for v := 1; v <= limit; v++ {
			g.next(t, v)
			if g.Len() == limit/2 {
				if got := recv(t, g.notified, "the drain notify"); got != limit/2 {
					t.Fatalf("drain notify saw Len %d", got)
				}
			}
			noValue(t, g.notified, fmt.Sprintf("notify with Len %d", g.Len()))
		}
		send(t, g.release, struct{}{}, "releasing the last item")
		if got := recv(t, g.notified, "the idle notify"); got != 0 {
			t.Fatalf("idle notify saw Len %d", got)
		}
		closeWithin(t, p.Pool)
		noValue(t, g.notified, "a third notify")
	})
}

// With one worker, a Serial with a long backlog gives the worker up after
// each batch, so another Serial's item runs after exactly one batch of the
// first, long before the first is done.
func TestSerialFairness(t *testing.T) {
	const long = 1000
	p := newTestPool(t, 1)
	var fail firstError
	var handledA atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	bSawA := make(chan int64, 1)
	doneA := make(chan struct{})
	a := NewSerial(p.Pool, 1<<20, func(v int) {
		if v == 0 {
			close(started)
			p.block(release)
		}
		if int64(v) != handledA.Load() {
			fail.set(fmt.Sprintf("A: item %d after %d", v, handledA.Load()))
		}
		if handledA.Add(1) == long {
			close(doneA)
		}
	}, func() {})
	b := NewSerial(p.Pool, 1<<20, func(int) { bSawA <- handledA.Load() }, func() {})

	a.Push(0)
	recv(t, started, "A's first item to start")
	for v := 1; v < long; v++ {
		a.Push(v)
	}
	b.Push(0) // queued behind A, which holds the only worker
	close(release)
	if got := recv(t, bSawA, "B's item"); got != batch {
		t.Fatalf("B's item ran after %d of A's items, want exactly one batch (%d)", got, batch)
	}
	recv(t, doneA, "all of A's items")
	fail.check(t)
}

// fn and notify run outside the Serial's lock: they may Push, Len and
// WhenIdle on their own Serial.
func TestSerialReentrant(t *testing.T) {
	const n, limit, burstEvery = 200, 10, 50
	p := newTestPool(t, 2)
	var fail firstError
	var got []int // only touched by fn, then after Close
	idle := make(chan struct{})
	var idleOnce sync.Once
	var s *Serial[int]
	s = NewSerial(p.Pool, limit, func(v int) {
		got = append(got, v)
		if v < 0 {
			return
		}
		if v == n-1 {
			// The last item: nothing is queued, but this Serial is
			// running, so it is not idle yet.
			if l := s.Len(); l != 0 {
				fail.set(fmt.Sprintf("Len = %d while the last item runs", l))
			}
			if s.WhenIdle() {
				fail.set("WhenIdle = true from inside fn")
			}
			return
		}
		if v%burstEvery == 0 {
			// A burst that fills the Serial from inside fn.
			for range limit {
				s.Push(-1)
			}
		}
		s.Push(v + 1)
	}, func() {
		// Either the drain notify of a burst or the final idle notify.
		if s.WhenIdle() {
			idleOnce.Do(func() { close(idle) })
		}
	})
	s.Push(0)
	recv(t, idle, "the Serial to go idle")
	closeWithin(t, p.Pool)
	fail.check(t)
	want := 0
	for _, v := range got {
		if v == -1 {
			continue
		}
		if v != want {
			t.Fatalf("item %d handled when %d was next", v, want)
		}
		want++
	}
	if total := n + limit*(n/burstEvery); want != n || len(got) != total {
		t.Fatalf("handled %d items (%d counted), want %d (%d)", len(got), want, total, n)
	}
}

// Close with a Serial holding more than one batch: the items were pushed
// before Close, so they are queued work Close should let finish.
func TestPoolCloseFinishesSerialBacklog(t *testing.T) {
	const items = 100
	p := newTestPool(t, 1)
	var handled atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	s := NewSerial(p.Pool, 1<<20, func(v int) {
		if v == 0 {
			close(started)
			p.block(release)
		}
		handled.Add(1)
	}, func() {})
	for v := range items {
		s.Push(v)
	}
	recv(t, started, "item 0 to start")
	closed := closing(p.Pool)
	waitFor(t, "Close to mark the pool closed", p.isClosed)
	close(release)
	recv(t, closed, "Close to return")
	if got := handled.Load(); got != items {
		t.Fatalf("Pool.Close returned with %d of %d pushed items handled (Len %d, WhenIdle %v): "+
			"the Serial yields after a batch of %d, work() resubmits it through submit, which drops "+
			"it once the pool is closed; the rest is never handled and the Serial stays marked "+
			"running, so WhenIdle never reports idle or notifies", got, items, s.Len(), s.WhenIdle(), batch)
	}
}

func BenchmarkSerialHandoff(b *testing.B) {
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			p := NewPool(workers)
			defer p.Close()
			var handled atomic.Int64
			done := make(chan struct{})
			notified := make(chan struct{}, 1)
			var target int64
			s := NewSerial(p, 1024, func(int) {
				if handled.Add(1) == target {
					close(done)
				}
			}, func() { notified <- struct{}{} })
			target = int64(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if s.Push(i) {
					<-notified
				}
			}
			<-done
		})
	}
}
