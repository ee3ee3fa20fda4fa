package worker

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNewPoolRejectsNoWorkers(t *testing.T) {
	for _, n := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewPool(%d) did not panic", n)
				}
			}()
			NewPool(n).Close()
		}()
	}
}

func TestPoolRunsEverySubmittedRunner(t *testing.T) {
	tests := []struct {
		workers, submitters, perSubmitter int
	}{
		{1, 1, 1000},
		{1, 4, 1000},
		{2, 1, 5000},
		{4, 4, 2500},
		{16, 8, 500},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dw/%ds", tt.workers, tt.submitters), func(t *testing.T) {
			p := newTestPool(t, tt.workers)
			total := tt.submitters * tt.perSubmitter
			runs := make([]atomic.Int32, total)
			var count atomic.Int64
			done := make(chan struct{})
			var wg sync.WaitGroup
			for s := range tt.submitters {
				wg.Go(func() {
					for i := range tt.perSubmitter {
						id := s*tt.perSubmitter + i
						p.submit(runFunc(func() bool {
							runs[id].Add(1)
							if count.Add(1) == int64(total) {
								close(done)
							}
							return false
						}), false)
					}
				})
			}
			recv(t, done, "every runner to run")
			wg.Wait()
			closeWithin(t, p.Pool)
			if got := count.Load(); got != int64(total) {
				t.Fatalf("%d runs, want %d", got, total)
			}
			for i := range runs {
				if n := runs[i].Load(); n != 1 {
					t.Fatalf("runner %d ran %d times, want 1", i, n)
				}
			}
		})
	}
}

// With one worker the FIFO order is observable exactly, including across
// the ring buffer wrapping and growing past its initial 64 slots.
func TestPoolFIFO(t *testing.T) {
	p := newTestPool(t, 1)
	var order []int // touched only by the single worker, then after Close

	// Advance the ring's head so that the growth below has to unwrap it.
	for i := range 10 {
		p.submit(runFunc(func() bool { order = append(order, -1-i); return false }), false)
	}
	release := p.occupy(t, 1)
	const n = 300
	for i := range n {
		p.submit(runFunc(func() bool { order = append(order, i); return false }), false)
	}
	close(release)
	closeWithin(t, p.Pool)

	want := []int{-1, -2, -3, -4, -5, -6, -7, -8, -9, -10}
	for i := range n {
		want = append(want, i)
	}
	if !slices.Equal(order, want) {
		t.Fatalf("run order %v, want %v", order, want)
	}
}

// A runner that returns true goes to the back of the FIFO.
func TestPoolYieldingRunnerGoesToBack(t *testing.T) {
	p := newTestPool(t, 1)
	var order []string
	done := make(chan struct{})
	yielder := func(name string, runs int) runner {
		return runFunc(func() bool {
			order = append(order, name)
			if len(order) == 6 {
				close(done)
			}
			runs--
			return runs > 0
		})
	}
	release := p.occupy(t, 1)
	p.submit(yielder("A", 3), false)
	p.submit(yielder("B", 2), false)
	p.submit(yielder("C", 1), false)
	close(release)
	// Not Close: it drops runners that yield after it (see
	// TestPoolCloseRunsYieldedRunners).
	recv(t, done, "six runs")
	closeWithin(t, p.Pool)
	want := []string{"A", "B", "C", "A", "B", "A"}
	if !slices.Equal(order, want) {
		t.Fatalf("run order %v, want %v", order, want)
	}
}

func TestPoolCloseWaitsForQueuedWork(t *testing.T) {
	// Pools of earlier tests are closed, but their goroutines may still
	// be on their way out.
	waitFor(t, "earlier pools' goroutines to exit", func() bool { return poolWorkers() == 0 })
	baseGoroutines := runtime.NumGoroutine()
	baseWorkers := 0

	const workers, queued = 2, 200
	p := newTestPool(t, workers)
	if got := poolWorkers() - baseWorkers; got != workers {
		t.Fatalf("%d worker goroutines after NewPool(%d)", got, workers)
	}
	release := p.occupy(t, workers)
	// Both workers are held: everything below stays queued.
	var ran atomic.Int64
	for range queued {
		p.submit(runFunc(func() bool { ran.Add(1); return false }), false)
	}

	closed := closing(p.Pool)
	waitFor(t, "Close to mark the pool closed", p.isClosed)
	noValue(t, closed, "return of Close while workers are busy")
	if got := ran.Load(); got != 0 {
		t.Fatalf("%d runners ran while the workers were held", got)
	}

	close(release)
	recv(t, closed, "Close to return")
	if got := ran.Load(); got != queued {
		t.Fatalf("Close returned after %d of %d queued runners", got, queued)
	}
	waitFor(t, "the worker goroutines to exit", func() bool {
		return poolWorkers() == baseWorkers && runtime.NumGoroutine() <= baseGoroutines
	})

	// After Close a submit is dropped: nothing queues, nothing runs.
	p.submit(runFunc(func() bool { ran.Add(1); return false }), false)
	p.mu.Lock()
	n := p.n
	p.mu.Unlock()
	if n != 0 || ran.Load() != queued {
		t.Fatalf("submit after Close: %d queued, %d ran; want 0 queued, %d ran", n, ran.Load(), queued)
	}
}

func TestPoolCloseLeavesNoGoroutines(t *testing.T) {
	for _, workers := range []int{1, 2, 8, 64} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			waitFor(t, "earlier pools' goroutines to exit", func() bool { return poolWorkers() == 0 })
			baseGoroutines := runtime.NumGoroutine()
			baseWorkers := 0
			p := NewPool(workers)
			if got := poolWorkers() - baseWorkers; got != workers {
				t.Fatalf("%d worker goroutines after NewPool(%d)", got, workers)
			}
			var ran atomic.Int64
			for range 1000 {
				p.submit(runFunc(func() bool { ran.Add(1); return false }), false)
			}
			closeWithin(t, p)
			if got := ran.Load(); got != 1000 {
				t.Fatalf("%d of 1000 runners ran before Close returned", got)
			}
			waitFor(t, "the worker goroutines to exit", func() bool {
				return poolWorkers() == baseWorkers && runtime.NumGoroutine() <= baseGoroutines
			})
		})
	}
}

// An idle pool's Close returns at once (no lost wake-up of parked workers).
func TestPoolCloseIdle(t *testing.T) {
	for _, workers := range []int{1, 8} {
		p := NewPool(workers)
		closeWithin(t, p)
	}
}

// Close "lets the workers finish everything already queued". A runner that
// yields (run returns true: it has more work) after Close was called is
// queued work too; a Serial yields after every batch of items.
func TestPoolCloseRunsYieldedRunners(t *testing.T) {
	p := newTestPool(t, 1)
	started, release := make(chan struct{}), make(chan struct{})
	runs := 0
	p.submit(runFunc(func() bool {
		runs++
		if runs == 1 {
			close(started)
			p.block(release)
		}
		return runs < 3
	}), false)
	recv(t, started, "the runner to start")
	closed := closing(p.Pool)
	waitFor(t, "Close to mark the pool closed", p.isClosed)
	close(release)
	recv(t, closed, "Close to return")
	if runs != 3 {
		t.Fatalf("Close returned after %d of the 3 runs a yielding runner asked for: "+
			"work() resubmits a runner whose run returned true through submit, which drops "+
			"it once closed is set", runs)
	}
}
