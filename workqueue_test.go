package simpleserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// A connection holds a work queue only while it has work on the workers:
// after many connections each had messages offloaded, in bursts that hit
// WorkerQueue (so reading paused and resumed), every reply arrives in
// order, and once they are all answered no loop holds a work queue for any
// of them while they stay open; the given-back queues wait as spares, at
// most maxSpareWork per loop.
func TestWorkQueueGivenBackWhenIdle(t *testing.T) {
	srv := &Server{
		Addr:  "127.0.0.1:0",
		Loops: 2, Workers: 4, WorkerQueue: 2,
		// No Codec: each read is one message, echoed.
		Handler: HandlerFunc(func(c *Conn, msg []byte) {
			time.Sleep(50 * time.Microsecond) // let messages queue up behind it
			c.Write(msg)
		}),
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addr := srv.Addrs()[0].String()

	const conns, rounds = 40, 20
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	held := make(chan net.Conn, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			held <- c
			c.SetDeadline(time.Now().Add(20 * time.Second))
			var want []byte
			for r := range rounds {
				// Small writes back to back: several messages of one
				// connection queue for the workers at once.
				for k := range 4 {
					p := fmt.Appendf(nil, "c%d-r%d-%d;", i, r, k)
					want = append(want, p...)
					if _, err := c.Write(p); err != nil {
						errs <- err
						return
					}
				}
				got := make([]byte, len(want))
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- fmt.Errorf("conn %d round %d: %v", i, r, err)
					return
				}
				if !bytes.Equal(got, want) {
					errs <- fmt.Errorf("conn %d round %d: echoed %q, want %q", i, r, got, want)
					return
				}
				want = want[:0]
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := srv.Stats().Open; n != conns {
		t.Fatalf("Open = %d, want the %d connections still held", n, conns)
	}

	// The last give-back follows the last reply (the worker writes it,
	// then the queue goes idle), so wait for it.
	var work, spare []int
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		work, spare = workQueues(t, srv)
		if work[0]+work[1] == 0 || time.Now().After(end) {
			break
		}
	}
	if work[0]+work[1] != 0 {
		t.Fatalf("work queues held per loop after every reply: %v, want none", work)
	}
	if spare[0]+spare[1] == 0 || spare[0] > maxSpareWork || spare[1] > maxSpareWork {
		t.Fatalf("spare work queues per loop: %v, want some, at most %d each", spare, maxSpareWork)
	}
	for range conns {
		(<-held).Close()
	}
}

// workQueues reads, on each loop, how many connections hold a work queue
// and how many spares it keeps.
func workQueues(t *testing.T, srv *Server) (work, spare []int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, l := range srv.loops {
		done := make(chan [2]int, 1)
		if !l.post(func() { done <- [2]int{len(l.work), len(l.spareWork)} }) {
			t.Fatal("loop exited")
		}
		select {
		case n := <-done:
			work, spare = append(work, n[0]), append(spare, n[1])
		case <-ctx.Done():
			t.Fatal("loop did not answer")
		}
	}
	return work, spare
}
