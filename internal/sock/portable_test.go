//go:build !linux || simpleserver_portable

package sock

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notes is a Notifier that records what the sockets post.
type notes struct {
	mu   sync.Mutex
	cond sync.Cond
	got  map[int]uint32
}

func newNotes() *notes {
	n := &notes{got: map[int]uint32{}}
	n.cond.L = &n.mu
	return n
}

func (n *notes) Notify(fd int, ev uint32) {
	n.mu.Lock()
	n.got[fd] |= ev
	n.mu.Unlock()
	n.cond.Broadcast()
}

func (n *notes) Forget(fd int) {
	n.mu.Lock()
	delete(n.got, fd)
	n.mu.Unlock()
}

// wait takes fd's events once they include want, failing after 5 s.
func (n *notes) wait(t *testing.T, fd int, want uint32) uint32 {
	t.Helper()
	timer := time.AfterFunc(5*time.Second, n.cond.Broadcast)
	defer timer.Stop()
	end := time.Now().Add(5 * time.Second)
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.got[fd]&want != want {
		if time.Now().After(end) {
			t.Fatalf("fd %d: events %#x, want %#x", fd, n.got[fd], want)
		}
		n.cond.Wait()
	}
	ev := n.got[fd]
	delete(n.got, fd)
	return ev
}

// accepted listens, connects a client and returns the server side's
// descriptor, watched edge-triggered by n.
func accepted(t *testing.T, n *notes) (fd int, client net.Conn) {
	t.Helper()
	lfd, addr, err := Listen("tcp", "127.0.0.1:0", ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(lfd) })
	if err := Watch(lfd, n, EventIn); err != nil {
		t.Fatal(err)
	}
	client, err = net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	n.wait(t, lfd, EventIn)
	fd, peer, err := Accept(lfd)
	if err != nil {
		t.Fatal(err)
	}
	if !peer.TCP() || peer.Addr().String() != client.LocalAddr().String() {
		t.Fatalf("peer %v, want %v", peer.Addr(), client.LocalAddr())
	}
	if err := Watch(fd, n, EventIn|EventOut|EventRDHup|EventEdge); err != nil {
		t.Fatal(err)
	}
	return fd, client
}

// The kernel's contract, kept: EAGAIN with nothing to read, In when data
// arrives, a full send buffer is a short write and then EAGAIN, Out once
// the peer reads, and (0, nil) at the peer's EOF with In|RDHup.
func TestPortableSocketContract(t *testing.T) {
	n := newNotes()
	fd, client := accepted(t, n)
	defer Close(fd)
	buf := make([]byte, 64<<10)
	if _, err := Read(fd, buf); err != syscall.EAGAIN {
		t.Fatalf("read with nothing sent: %v, want EAGAIN", err)
	}
	n.wait(t, fd, EventOut) // writable from the start, as epoll reports it
	client.Write([]byte("hello"))
	n.wait(t, fd, EventIn)
	if m, err := Read(fd, buf); err != nil || string(buf[:m]) != "hello" {
		t.Fatalf("read %q, %v", buf[:m], err)
	}

	// The client does not read: writes fill the send buffer, then the
	// kernel's, then stop short.
	total, chunk := 0, bytes.Repeat([]byte("x"), 16<<10)
	for end := time.Now().Add(5 * time.Second); ; {
		m, err := Write(fd, chunk)
		total += m
		if err == syscall.EAGAIN {
			break
		}
		if err != nil || time.Now().After(end) {
			t.Fatalf("write after %d bytes: %v", total, err)
		}
	}
	if m, err := Write(fd, chunk); m != 0 || err != syscall.EAGAIN {
		t.Fatalf("write to a full buffer: %d, %v; want 0, EAGAIN", m, err)
	}
	got := make(chan int)
	go func() {
		m, _ := io.ReadFull(client, make([]byte, total))
		got <- m
	}()
	n.wait(t, fd, EventOut)
	if m := <-got; m != total {
		t.Fatalf("the client read %d of %d bytes", m, total)
	}

	client.(*net.TCPConn).CloseWrite()
	if ev := n.wait(t, fd, EventIn|EventRDHup); ev&EventErr != 0 {
		t.Fatalf("EOF reported as an error: %#x", ev)
	}
	if m, err := Read(fd, buf); m != 0 || err != nil {
		t.Fatalf("read at EOF: %d, %v; want 0, nil", m, err)
	}
}

// A handed-over connection starts with what the reader had read ahead,
// and the descriptor's close leaves it open.
func TestPortableFileConnKeepsReadAhead(t *testing.T) {
	n := newNotes()
	fd, client := accepted(t, n)
	client.Write([]byte("read ahead"))
	n.wait(t, fd, EventIn)
	nc, err := FileConn(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := Close(fd); err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("read ahead"))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "read ahead" {
		t.Fatalf("handed over: %q, %v", got, err)
	}
	client.Write([]byte("then"))
	if _, err := io.ReadFull(nc, got[:4]); err != nil || string(got[:4]) != "then" {
		t.Fatalf("after the read-ahead: %q, %v", got[:4], err)
	}
	if _, err := nc.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	client.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got[:4]); err != nil || string(got[:4]) != "back" {
		t.Fatalf("the client read %q, %v", got[:4], err)
	}
}

// Closing with input unread resets the connection, as Linux does;
// closing with none sends what was written, then the FIN.
func TestPortableCloseResetsOnlyWithUnreadInput(t *testing.T) {
	t.Run("unread", func(t *testing.T) {
		n := newNotes()
		fd, client := accepted(t, n)
		client.Write([]byte("never read"))
		n.wait(t, fd, EventIn)
		Close(fd)
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := client.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read after an abort: %v, want a reset", err)
		}
	})
	t.Run("drained", func(t *testing.T) {
		n := newNotes()
		fd, client := accepted(t, n)
		if m, err := Write(fd, []byte("last words")); m != 10 || err != nil {
			t.Fatalf("write: %d, %v", m, err)
		}
		Close(fd)
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(client)
		if err != nil || string(got) != "last words" {
			t.Fatalf("after an orderly close: %q, %v", got, err)
		}
	})
}
