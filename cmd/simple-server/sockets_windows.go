package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/simple-server/simpleserver"
)

// On Windows there is no socket activation and no SIGHUP: the server
// opens its listener itself (Start with none), and nothing restarts it.
type sockets struct{ metrics net.Listener }

// openSockets has nothing to take over on Windows; it opens the metrics
// socket on metricsAddr unless that is empty.
func openSockets(_ *simpleserver.Server, metricsAddr string, _ *slog.Logger) (*sockets, error) {
	s := &sockets{}
	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("-metrics-addr: %w", err)
		}
		s.metrics = ln
	}
	return s, nil
}

// serverListeners is none: the server listens on its Addr.
func (*sockets) serverListeners() []net.Listener { return nil }

// metricsListener is the operator's endpoint's, or nil; the endpoint owns
// it once given.
func (s *sockets) metricsListener() net.Listener { return s.metrics }

// logAttrs are the start line's words about the sockets.
func (*sockets) logAttrs() []any { return []any{"pid", os.Getpid(), "inherited", 0} }

// serve never hands over: there is no restart on Windows.
func (*sockets) serve(*slog.Logger, time.Duration) <-chan os.Signal { return nil }

// release has nothing to release; run calls it before Shutdown.
func (*sockets) release() {}
