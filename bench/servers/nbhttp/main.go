// Command nbhttp is github.com/lesismal/nbio's nbhttp serving the
// plaintext contract of simple-server -proto http (protocol/plaintext's
// ServeMux, the same handler servers/nethttp serves) on nbio's event loop:
// one poller (the suite runs every server with GOMAXPROCS=1 on one core),
// otherwise nbhttp's defaults, so handlers run on its default task pool.
// It adds the Server header the contract asks for, which nbhttp does not
// send by itself (it sends Date, and Content-Length for a declared one).
//
// Where it departs from the contract: nbhttp v1.6.8 sends what a handler
// writes whatever the method, so a HEAD response carries the body
// ("Hello, World!") after its headers, which HTTP forbids and a
// keep-alive client reads as the start of the next response. The
// benchmark sends no HEAD; the conformance test checks these bytes.
//
// Engine.Start does not block: main waits for SIGINT or SIGTERM, then
// stops the engine.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/simple-server/simpleserver/protocol/plaintext"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	mux := plaintext.Mux()
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{*addr},
		NPoller: 1,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "nbhttp")
			mux.ServeHTTP(w, r)
		}),
	})
	if err := engine.Start(); err != nil {
		log.Fatalf("nbhttp: %v", err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	engine.Stop()
}
