package main

import (
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/simple-server/simpleserver"
)

// On Windows there is no socket activation and no SIGHUP: the server
// opens its listener itself (Start with none), and nothing restarts it.
type sockets struct{}

// openSockets has nothing to take over on Windows.
func openSockets(*simpleserver.Server, *slog.Logger) (*sockets, error) { return &sockets{}, nil }

// listeners is none: the server listens on its Addr.
func (*sockets) listeners() []net.Listener { return nil }

// logAttrs are the start line's words about the sockets.
func (*sockets) logAttrs() []any { return []any{"pid", os.Getpid(), "inherited", 0} }

// serve never hands over: there is no restart on Windows.
func (*sockets) serve(*slog.Logger, time.Duration) <-chan os.Signal { return nil }

// release has nothing to release; run calls it before Shutdown.
func (*sockets) release() {}
