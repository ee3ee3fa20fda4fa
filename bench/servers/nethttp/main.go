// Command nethttp is Go's net/http serving the plaintext contract of
// simple-server -proto http (protocol/plaintext's ServeMux) as a net/http
// user would: http.Server, a goroutine per connection. It adds the Server
// header the contract asks for, which net/http does not send by itself.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/simple-server/simpleserver/protocol/plaintext"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	mux := plaintext.Mux()
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "net/http")
		mux.ServeHTTP(w, r)
	})))
}
