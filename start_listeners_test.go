package simpleserver_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// listenN opens n listeners on fresh 127.0.0.1 ports.
func listenN(t *testing.T, n int) []net.Listener {
	t.Helper()
	lns := make([]net.Listener, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
	}
	return lns
}

// Start with several listeners serves every one of them, exactly, whether
// each loop has a listener of its own (and keeps what it accepts) or
// fewer listeners than loops hand connections out; Addrs lists them in
// order; Close closes them, since the server owns them.
func TestStartSeveralListeners(t *testing.T) {
	for _, tc := range []struct{ listeners, loops int }{{2, 2}, {2, 4}, {3, 2}} {
		t.Run(fmt.Sprintf("listeners=%d,loops=%d", tc.listeners, tc.loops), func(t *testing.T) {
			lns := listenN(t, tc.listeners)
			srv := helloServer(func(s *simpleserver.Server) { s.Loops = tc.loops })
			if err := srv.Start(lns...); err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			addrs := srv.Addrs()
			if len(addrs) != len(lns) {
				t.Fatalf("Addrs = %v, want %d listeners", addrs, len(lns))
			}
			for i, ln := range lns {
				if addrs[i].String() != ln.Addr().String() {
					t.Fatalf("Addrs[%d] = %v, want %v", i, addrs[i], ln.Addr())
				}
			}
			const conns, msgs = 20, 10
			for _, a := range addrs {
				runClients(t, a.String(), conns, msgs)
			}
			st := waitStats(srv, func(st simpleserver.Stats) bool {
				return st.Accepted == uint64(conns*len(lns)) && st.Open == 0
			})
			if st.Accepted != uint64(conns*len(lns)) || st.Open != 0 {
				t.Fatalf("accepted %d, open %d; want %d, 0", st.Accepted, st.Open, conns*len(lns))
			}
			if st.MessagesIn != uint64(conns*msgs*len(lns)) || st.MessagesOut != st.MessagesIn {
				t.Fatalf("messages in/out = %d/%d, want %d", st.MessagesIn, st.MessagesOut, conns*msgs*len(lns))
			}
			if tc.listeners == tc.loops {
				// Each loop accepts on its own listener only.
				for i, ls := range srv.LoopStats() {
					if ls.Accepted != conns {
						t.Errorf("loop %d accepted %d, want %d (its listener's)", i, ls.Accepted, conns)
					}
				}
			}
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			for _, a := range addrs {
				if c, err := net.DialTimeout("tcp", a.String(), time.Second); err == nil {
					c.Close()
					t.Errorf("%v still accepts after Close", a)
				}
			}
		})
	}
}

// A nil among several listeners is refused, and the server closes the
// others it was given, as it owns them.
func TestStartNilAmongListeners(t *testing.T) {
	lns := listenN(t, 2)
	srv := helloServer(nil)
	err := srv.Start(lns[0], nil, lns[1])
	if err == nil || !strings.Contains(err.Error(), "nil listener") {
		srv.Close()
		t.Fatalf("Start = %v, want the nil listener refused", err)
	}
	for _, ln := range lns {
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept on a listener given to the failed Start = %v, want net.ErrClosed", err)
		}
	}
}
