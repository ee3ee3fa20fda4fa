package simpleserver_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/codec"
)

// A server that cuts its input into length-prefixed messages and answers
// each one. The handler runs on the event loop (Workers is 0), so it must
// not block; its reply is queued and written at the end of the loop turn.
func ExampleServer() {
	srv := &simpleserver.Server{
		// A 4-byte big-endian (network byte order) length, then the message.
		Codec: codec.LengthPrefixed{Width: 4, MaxFrame: 1 << 20},
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			c.Writev([]byte("Hi there, you just said: "), msg)
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer srv.Shutdown(ctx)

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))

	request := binary.BigEndian.AppendUint32(nil, 5)
	request = append(request, "hello"...)
	client.Write(request)
	reply := make([]byte, len("Hi there, you just said: hello"))
	if _, err := io.ReadFull(client, reply); err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply)
	// Output: Hi there, you just said: hello
}

// A handler that blocks (here a simulated database call) runs on Workers.
// The messages of one connection are still handled one at a time, in
// order, so a pipelining client gets its replies in the order it asked,
// however long each one takes.
func ExampleServer_workers() {
	srv := &simpleserver.Server{
		Codec:   codec.Line{},
		Workers: 8,
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			d, _ := time.ParseDuration(string(msg))
			time.Sleep(d) // the query
			fmt.Fprintf(c, "query of %s done\n", msg)
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer srv.Shutdown(ctx)

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))

	client.Write([]byte("30ms\n10ms\n0s\n")) // three requests at once
	replies := bufio.NewScanner(client)
	for range 3 {
		if !replies.Scan() {
			panic(replies.Err())
		}
		fmt.Println(replies.Text())
	}
	// Output:
	// query of 30ms done
	// query of 10ms done
	// query of 0s done
}

// Shutdown drains: it stops accepting and reading, lets the request that
// is being handled finish, writes its reply, then closes the connection.
func ExampleServer_Shutdown() {
	started := make(chan struct{})
	srv := &simpleserver.Server{
		Codec:   codec.Line{},
		Workers: 1,
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			close(started)
			time.Sleep(50 * time.Millisecond) // still running when Shutdown begins
			fmt.Fprintf(c, "%s: done\n", msg)
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	client.SetDeadline(time.Now().Add(5 * time.Second))
	client.Write([]byte("job\n"))
	<-started

	// Give the drain 5 seconds; after that Shutdown would cut off what
	// remains and say how many connections it closed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(ctx) }()

	reply, err := io.ReadAll(client) // the reply, then the server's close
	fmt.Printf("%q %v\n", reply, err)
	client.Close()
	fmt.Println("Shutdown:", <-stopped)
	// Output:
	// "job: done\n" <nil>
	// Shutdown: <nil>
}

// WriteNotify tells when a reply has reached the kernel (or that the
// connection closed first): the moment to release what the reply was
// built from, log it as sent, or send the next part of a stream.
func ExampleConn_WriteNotify() {
	written := make(chan error, 1)
	srv := &simpleserver.Server{
		Codec: codec.Line{},
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			c.WriteNotify(func(c *simpleserver.Conn, err error) {
				written <- err // on the loop: must not block
			}, []byte("you said: "), msg, []byte("\n"))
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer srv.Shutdown(ctx)

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))

	client.Write([]byte("hello\n"))
	reply, err := bufio.NewReader(client).ReadString('\n')
	if err != nil {
		panic(err)
	}
	fmt.Print(reply)
	select {
	case err := <-written:
		fmt.Println("written:", err)
	case <-time.After(5 * time.Second):
		fmt.Println("no notification")
	}
	// Output:
	// you said: hello
	// written: <nil>
}

// AfterFunc runs a function on the connection's event loop later, without
// a goroutine or a Go timer: here a second reply, 20ms after the first.
// The returned Timer's Stop cancels it; a closed connection's timers never
// run.
func ExampleConn_AfterFunc() {
	srv := &simpleserver.Server{
		Codec: codec.Line{},
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			fmt.Fprintf(c, "now: %s\n", msg)
			later := fmt.Sprintf("20ms later: %s\n", msg) // msg is not valid after return
			c.AfterFunc(20*time.Millisecond, func() {
				c.Write([]byte(later))
			})
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer srv.Shutdown(ctx)

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))

	client.Write([]byte("hello\n"))
	replies := bufio.NewScanner(client)
	for range 2 {
		if !replies.Scan() {
			panic(replies.Err())
		}
		fmt.Println(replies.Text())
	}
	// Output:
	// now: hello
	// 20ms later: hello
}

// A program that only dials out: StartClient runs the loops with no
// listener, and Dial makes an outbound connection that is served like an
// accepted one, by a Dialer's Codec and Handler, on a loop. (The server it
// talks to is started here too, so that the example runs by itself.)
func ExampleServer_Dial() {
	echo := &simpleserver.Server{
		Codec: codec.Line{},
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, line []byte) {
			c.Writev([]byte("echo: "), line, []byte("\n"))
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go echo.Serve(ln)
	defer echo.Close()

	client := &simpleserver.Server{Loops: 1}
	if err := client.StartClient(); err != nil {
		panic(err)
	}
	defer client.Close()
	replies := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "tcp", ln.Addr().String(), &simpleserver.Dialer{
		Codec: codec.Line{},
		// On the loop, like a server's Handler: it must not block.
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, line []byte) {
			replies <- string(line)
		}),
	})
	if err != nil {
		panic(err)
	}
	c.Write([]byte("hello upstream\n"))
	fmt.Println(<-replies)
	// Output: echo: hello upstream
}
