package http1_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
)

// Any net/http Handler, here a ServeMux, served on the event loops: the
// handlers run on the server's workers, one request of a connection at a
// time.
func ExampleProtocol() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", r.PathValue("name"))
	})
	srv := &simpleserver.Server{
		Workers: 16, // net/http handlers may block: they run here
		Stream:  &http1.Protocol{Handler: mux},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	r, err := http.Get("http://" + ln.Addr().String() + "/hello/gopher")
	if err != nil {
		panic(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	fmt.Print(r.Status, " ", string(body))
	// Output: 200 OK hello, gopher
}

// A Fast handler answers on the event loop itself, with no goroutine and
// no allocation per request; it must never block.
func ExampleFastHandler() {
	fast := http1.FastHandlerFunc(func(x *http1.Exchange) {
		if string(x.Path()) != "/plaintext" {
			x.SetStatus(http.StatusNotFound)
			return
		}
		x.AddHeader("Content-Type", "text/plain")
		x.WriteString("Hello, World!")
	})
	srv := &simpleserver.Server{Stream: &http1.Protocol{Fast: fast, ServerName: "example"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	r, err := http.Get("http://" + ln.Addr().String() + "/plaintext")
	if err != nil {
		panic(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	fmt.Println(r.Status, r.Header.Get("Server"), r.ContentLength, string(body))
	// Output: 200 OK example 13 Hello, World!
}
