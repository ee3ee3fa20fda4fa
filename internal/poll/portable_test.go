//go:build !linux || simpleserver_portable

package poll

import (
	"net"
	"testing"
	"time"

	"github.com/simple-server/simpleserver/internal/sock"
)

// waitFor waits until fd is reported with want, failing after 5 s.
func waitFor(t *testing.T, p *Poller, fd int, want uint32) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		events, _, err := p.Wait(100)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if int(ev.Fd) == fd && ev.Events&want == want {
				return
			}
		}
	}
	t.Fatalf("fd %d never reported %#x", fd, want)
}

// An edge-triggered socket is reported once per arrival; a
// level-triggered one again at every Wait while it stays ready, as epoll
// keeps it on its ready list; Del withdraws what was posted.
func TestPortableEdgeAndLevel(t *testing.T) {
	p, _ := New()
	defer p.Close()
	lfd, addr, err := sock.Listen("tcp", "127.0.0.1:0", sock.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close(lfd)
	if err := p.Add(lfd, In); err != nil {
		t.Fatal(err)
	}
	client, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	waitFor(t, p, lfd, In)
	// Level-triggered and not accepted yet: reported again, at once.
	if events, _, _ := p.Wait(0); len(events) != 1 || int(events[0].Fd) != lfd {
		t.Fatalf("the pending connection was not reported again: %v", events)
	}
	fd, _, err := sock.Accept(lfd)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close(fd)
	if err := p.Add(fd, In|RDHup|Edge); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("x"))
	waitFor(t, p, fd, In)
	// Edge-triggered: not reported again while the byte stays unread.
	if events, _, _ := p.Wait(20); len(events) != 0 {
		t.Fatalf("an edge reported twice: %v", events)
	}
	client.Write([]byte("y")) // read ahead, or not yet: x came alone
	buf := make([]byte, 8)
	if n, err := sock.Read(fd, buf); n != 1 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	waitFor(t, p, fd, In) // the second byte, a new edge
	if err := p.Del(fd); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("z"))
	if events, _, _ := p.Wait(20); len(events) != 0 {
		t.Fatalf("reported after Del: %v", events)
	}
}

// Wakes coalesce until a Wait reports one; a Wait with nothing to report
// returns at its timeout.
func TestPortableWake(t *testing.T) {
	p, _ := New()
	defer p.Close()
	for range 3 {
		p.Wake()
	}
	if _, woken, _ := p.Wait(1000); !woken {
		t.Fatal("Wake not reported")
	}
	start := time.Now()
	if events, woken, _ := p.Wait(30); woken || len(events) != 0 {
		t.Fatalf("a second wake-up reported: %v %v", events, woken)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Fatalf("Wait(30) returned after %v", d)
	}
}
