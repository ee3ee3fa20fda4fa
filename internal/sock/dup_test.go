//go:build linux && !simpleserver_portable

package sock

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type deadliner interface {
	net.Listener
	SetDeadline(time.Time) error
}

func TestDup(t *testing.T) {
	tests := []struct {
		name string
		ln   func(t *testing.T) deadliner
	}{
		{"tcp", func(t *testing.T) deadliner {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			return ln.(*net.TCPListener)
		}},
		{"unix", func(t *testing.T) deadliner {
			ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
			if err != nil {
				t.Fatal(err)
			}
			return ln.(*net.UnixListener)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeadline(t)
			ln := tt.ln(t)
			defer ln.Close()
			if err := ln.SetDeadline(time.Time(d)); err != nil {
				t.Fatal(err)
			}
			fd, err := Dup(ln)
			if err != nil {
				t.Fatal(err)
			}
			wantNonblockCloexec(t, fd)
			la, err := LocalAddr(fd)
			if err != nil {
				t.Fatal(err)
			}
			wantAddr(t, "LocalAddr(dup)", la, ln.Addr())

			// The dup serves the listener's queue.
			c := dial(t, d, ln.Addr())
			nfd, sa := acceptOne(t, d, fd)
			peer := sa.Addr()
			if sa.Unix() {
				var err error
				if peer, err = PeerAddr(nfd); err != nil {
					t.Fatal(err)
				}
			}
			wantAddr(t, "peer", peer, c.LocalAddr())
			if _, err := c.Write([]byte("hi")); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, d, nfd, 2); !bytes.Equal(got, []byte("hi")) {
				t.Fatalf("read %q, want %q", got, "hi")
			}

			// Closing the dup leaves the original working.
			if err := unix.Close(fd); err != nil {
				t.Fatal(err)
			}
			c2 := dial(t, d, ln.Addr())
			s, err := ln.Accept()
			if err != nil {
				t.Fatalf("original listener after closing the dup: %v", err)
			}
			defer s.Close()
			wantAddr(t, "peer via original", s.RemoteAddr(), c2.LocalAddr())
		})
	}
}

func TestDupDeferAccept(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd, err := Dup(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := SetDeferAccept(fd, time.Second); err != nil {
		t.Fatal(err)
	}
	wantInt(t, fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 1)
}

type fakeListener struct{ net.Listener }

func TestDupErrors(t *testing.T) {
	checkNoFDLeak(t)
	closed, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tt := range []struct {
		name string
		ln   net.Listener
		want string
	}{
		{"nil", nil, "unsupported listener type <nil>"},
		{"other type", fakeListener{}, "unsupported listener type sock.fakeListener"},
		{"typed nil", (*net.TCPListener)(nil), "invalid argument"},
		{"closed", closed, "use of closed network connection"},
	} {
		fd, err := Dup(tt.ln)
		if err == nil || fd != -1 {
			if err == nil {
				unix.Close(fd)
			}
			t.Errorf("Dup(%s) = %d, %v; want -1 and an error", tt.name, fd, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Dup(%s) error %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}
