// Command simpleserver serves hello or echo with this repository's
// library, configured as simple-server is but with one event loop and no
// workers: the protocol/hello and protocol/echo handlers, hello's codec
// with the 1 MiB limit, TCP_DEFER_ACCEPT (the binary's default) and the
// library's defaults otherwise. The binary's idle/read/write timeouts are
// off unless -timeouts is given, as none of the peers has any.
//
// Built with -tags simpleserver_portable it is the benchmark's "portable"
// server: the same program on the library's portable engine (Go's net
// package, a reader goroutine per connection feeding the event loop),
// where DeferAccept has no equivalent and is not applied. The start log
// names the engine the binary runs ("engine epoll" or "engine portable").
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/echo"
	"github.com/simple-server/simpleserver/protocol/hello"

	"github.com/simple-server/simpleserver/bench/internal/wire"
)

func main() {
	timeouts := flag.Bool("timeouts", false, "turn on simple-server's default idle (60s), read (30s) and write (30s) timeouts")
	cfg := wire.Flags(simpleserver.DefaultAddr)
	srv := &simpleserver.Server{
		Addr:    cfg.Addr,
		Loops:   1,
		Workers: 0,
		// DeferAccept 0: DefaultDeferAccept (1 s), as simple-server does.
	}
	if *timeouts {
		srv.IdleTimeout, srv.ReadTimeout, srv.WriteTimeout = 60*time.Second, 30*time.Second, 30*time.Second
	}
	if cfg.Proto == "echo" {
		srv.Handler = echo.Handler
	} else {
		srv.Codec, srv.Handler = hello.Codec(wire.MaxFrame), hello.Handler
	}
	if err := srv.Start(nil); err != nil {
		log.Fatal(err)
	}
	log.Printf("simpleserver %s listening on %s, engine %s", cfg.Proto, srv.Addrs()[0], srv.Engine())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}
