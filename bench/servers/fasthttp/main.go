// Command fasthttp is github.com/valyala/fasthttp serving the plaintext
// contract of simple-server -proto http (see protocol/plaintext) as its
// README writes a server: a fasthttp.Server whose handler switches on the
// path, then the method. fasthttp adds the Date and Server headers itself
// (Server from Name), and Content-Length for a body set whole.
//
//	GET or HEAD / and /plaintext  200, "Hello, World!", text/plain; charset=utf-8
//	POST /echo                    200, the request body, application/octet-stream
//	another method on those paths 405, as protocol/plaintext's ServeMux answers
//	anything else                 404
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

const (
	body        = "Hello, World!"
	contentType = "text/plain; charset=utf-8"
)

func handler(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/", "/plaintext":
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Response.Header.Set("Allow", "GET, HEAD")
			ctx.Error("Method Not Allowed\n", fasthttp.StatusMethodNotAllowed)
			return
		}
		ctx.SetContentType(contentType)
		ctx.SetBodyString(body)
	case "/echo":
		if !ctx.IsPost() {
			ctx.Response.Header.Set("Allow", "POST")
			ctx.Error("Method Not Allowed\n", fasthttp.StatusMethodNotAllowed)
			return
		}
		// fasthttp reads a Content-Length body whole before calling the
		// handler; SetBody copies it into the response.
		ctx.SetContentType("application/octet-stream")
		ctx.SetBody(ctx.PostBody())
	default:
		ctx.Error("404 page not found\n", fasthttp.StatusNotFound)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	s := &fasthttp.Server{Handler: handler, Name: "fasthttp"}
	log.Fatal(s.ListenAndServe(*addr))
}
