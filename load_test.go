package simpleserver_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// runClients runs conns pipelining clients of n requests each at once and
// fails the test on the first error.
func runClients(t *testing.T, addr string, conns, n int) {
	t.Helper()
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for id := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pipelineClient(addr, id, n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestThousandConnsPipelinedOnLoops(t *testing.T) {
	addr := start(t, helloServer(nil))
	runClients(t, addr, 1000, 100)
}

// With handlers offloaded to 8 workers that sleep for random times, replies
// still come back in request order on every connection. Sleeping on every
// message would make this test take 1000*100*avg/8: one message in 16
// sleeps 1-3 ms, the rest yield, which still reorders work across workers
// all the time.
func TestThousandConnsPipelinedOnWorkers(t *testing.T) {
	addr := start(t, helloServer(func(s *simpleserver.Server) {
		s.Workers = 8
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			if rand.IntN(16) == 0 {
				time.Sleep(time.Millisecond + rand.N(2*time.Millisecond))
			}
			hello.Serve(c, msg)
		})
	}))
	runClients(t, addr, 1000, 100)
}
