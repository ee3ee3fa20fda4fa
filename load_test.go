package simpleserver_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

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
