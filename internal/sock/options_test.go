//go:build linux && !simpleserver_portable

package sock

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestListenOptions(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		lfd, _ := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{})
		wantInt(t, lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR", 1)
		wantInt(t, lfd, unix.SOL_SOCKET, unix.SO_REUSEPORT, "SO_REUSEPORT", 0)
		wantInt(t, lfd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 0)
		wantBacklog(t, lfd, Backlog(0))
	})
	t.Run("all", func(t *testing.T) {
		lfd, _ := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{Backlog: 16, ReusePort: true, DeferAccept: 1500 * time.Millisecond})
		wantInt(t, lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR", 1)
		wantInt(t, lfd, unix.SOL_SOCKET, unix.SO_REUSEPORT, "SO_REUSEPORT", 1)
		// 1.5 s rounds up to 2 s, which the kernel stores as two SYN-ACK
		// retransmissions (1 s + 2 s) and reports as 3 s.
		wantInt(t, lfd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 3)
		wantBacklog(t, lfd, 16)
	})
	t.Run("unix ignores TCP-only options", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.sock")
		lfd, _ := listen(t, "unix", path, ListenOptions{Backlog: 8, ReusePort: true, DeferAccept: time.Second})
		wantInt(t, lfd, unix.SOL_SOCKET, unix.SO_REUSEPORT, "SO_REUSEPORT", 0)
	})
}

// wantBacklog checks the accept-queue limit the kernel actually uses for
// the listener: for a socket in LISTEN state, TCP_INFO reports
// sk_max_ack_backlog in tcpi_sacked.
func wantBacklog(t *testing.T, lfd, want int) {
	t.Helper()
	info, err := unix.GetsockoptTCPInfo(lfd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.Sacked) != want {
		t.Errorf("listener backlog = %d, want %d", info.Sacked, want)
	}
}

func TestBacklog(t *testing.T) {
	somax := readSysctl(t, "/proc/sys/net/core/somaxconn")
	if got := Backlog(1 << 30); got != somax {
		t.Errorf("Backlog(1<<30) = %d, want somaxconn %d", got, somax)
	}
	def := min(DefaultBacklog, somax)
	for _, req := range []int{0, -1} {
		if got := Backlog(req); got != def {
			t.Errorf("Backlog(%d) = %d, want %d", req, got, def)
		}
	}
	if somax >= 16 {
		if got := Backlog(16); got != 16 {
			t.Errorf("Backlog(16) = %d, want 16", got)
		}
	}
	// The kernel caps the same way, and Listen passes Backlog's value.
	lfd, _ := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{Backlog: 1 << 30})
	wantBacklog(t, lfd, somax)
}

// TestDeferAccept checks the behaviour, not just the option value: a
// client that connects without sending is not accepted, one that sends is.
func TestDeferAccept(t *testing.T) {
	d := newDeadline(t)
	lfd, addr := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{DeferAccept: time.Second})
	wantInt(t, lfd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 1)

	c := dial(t, d, addr)
	// The first SYN-ACK retransmission, which would end the deferral, is
	// due after 1 s; until then the silent connection must stay invisible.
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 300); err != nil || n != 0 {
		t.Fatalf("listener readable for a silent client (poll = %d, %v)", n, err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	nfd, _ := acceptOne(t, d, lfd)
	if got := readFull(t, d, nfd, 1); string(got) != "x" {
		t.Fatalf("read %q, want %q", got, "x")
	}

	// SetDeferAccept turns it off again.
	if err := SetDeferAccept(lfd, 0); err != nil {
		t.Fatal(err)
	}
	wantInt(t, lfd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 0)
	if err := SetDeferAccept(lfd, time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	wantInt(t, lfd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 1)
}

func TestConnOptionsTCP(t *testing.T) {
	d := newDeadline(t)
	rmemMax := readSysctl(t, "/proc/sys/net/core/rmem_max")
	wmemMax := readSysctl(t, "/proc/sys/net/core/wmem_max")
	opts := ConnOptions{
		NoDelay: true,
		KeepAlive: net.KeepAliveConfig{
			Enable:   true,
			Idle:     90 * time.Second,
			Interval: 1500 * time.Millisecond, // rounds up to 2 s
			Count:    4,
		},
		ReadBuffer:  64 << 10,
		WriteBuffer: 48 << 10,
	}
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"peer", "unknown peer"} {
		t.Run(name, func(t *testing.T) {
			lfd, addr := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{})
			dial(t, d, addr)
			nfd, sa := acceptOne(t, d, lfd)

			// Fresh sockets have them off, so what we see below is Apply's
			// doing.
			wantInt(t, nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, "TCP_NODELAY before Apply", 0)
			wantInt(t, nfd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE before Apply", 0)

			if name == "unknown peer" {
				sa = Peer{}
			}
			if err := opts.Apply(nfd, sa); err != nil {
				t.Fatal(err)
			}
			wantInt(t, nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, "TCP_NODELAY", 1)
			wantInt(t, nfd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE", 1)
			wantInt(t, nfd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, "TCP_KEEPIDLE", 90)
			wantInt(t, nfd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, "TCP_KEEPINTVL", 2)
			wantInt(t, nfd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, "TCP_KEEPCNT", 4)
			// The kernel stores min(value, rmem_max/wmem_max) doubled.
			rcv := getInt(t, nfd, unix.SOL_SOCKET, unix.SO_RCVBUF)
			if rmemMax >= opts.ReadBuffer && rcv < opts.ReadBuffer {
				t.Errorf("SO_RCVBUF = %d, want >= %d requested", rcv, opts.ReadBuffer)
			}
			if want := 2 * min(opts.ReadBuffer, rmemMax); rcv != want {
				t.Errorf("SO_RCVBUF = %d, want %d", rcv, want)
			}
			snd := getInt(t, nfd, unix.SOL_SOCKET, unix.SO_SNDBUF)
			if want := 2 * min(opts.WriteBuffer, wmemMax); snd != want {
				t.Errorf("SO_SNDBUF = %d, want %d", snd, want)
			}
		})
	}

	t.Run("zero value changes nothing", func(t *testing.T) {
		lfd, addr := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{})
		dial(t, d, addr)
		nfd, sa := acceptOne(t, d, lfd)
		rcv := getInt(t, nfd, unix.SOL_SOCKET, unix.SO_RCVBUF)
		if err := (ConnOptions{KeepAlive: net.KeepAliveConfig{Idle: time.Second}}).Apply(nfd, sa); err != nil {
			t.Fatal(err)
		}
		wantInt(t, nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, "TCP_NODELAY", 0)
		wantInt(t, nfd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE", 0)
		wantInt(t, nfd, unix.SOL_SOCKET, unix.SO_RCVBUF, "SO_RCVBUF", rcv)
	})

	t.Run("kernel rejects", func(t *testing.T) {
		lfd, addr := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{})
		dial(t, d, addr)
		nfd, sa := acceptOne(t, d, lfd)
		bad := ConnOptions{KeepAlive: net.KeepAliveConfig{Enable: true, Count: maxKeepCnt + 1}}
		if bad.Validate() == nil {
			t.Error("Validate accepted a keep-alive count above the kernel limit")
		}
		err := bad.Apply(nfd, sa)
		wantErrno(t, err, unix.EINVAL)
		var se *os.SyscallError
		if !errors.As(err, &se) || !strings.Contains(se.Syscall, "TCP_KEEPCNT") {
			t.Errorf("error %v does not name TCP_KEEPCNT", err)
		}
	})
}

func TestConnOptionsUnix(t *testing.T) {
	d := newDeadline(t)
	wmemMax := readSysctl(t, "/proc/sys/net/core/wmem_max")
	lfd, addr := listen(t, "unix", filepath.Join(t.TempDir(), "s.sock"), ListenOptions{})
	dial(t, d, addr)
	nfd, sa := acceptOne(t, d, lfd)
	opts := ConnOptions{
		NoDelay:     true,
		KeepAlive:   net.KeepAliveConfig{Enable: true, Idle: time.Minute, Interval: time.Second, Count: 3},
		WriteBuffer: 32 << 10,
	}
	for _, sa := range []Peer{sa, {}} {
		if err := opts.Apply(nfd, sa); err != nil {
			t.Fatalf("Apply(%+v) on AF_UNIX: %v", sa, err)
		}
	}
	// TCP-only options were skipped; the buffer was not.
	wantInt(t, nfd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE", 0)
	wantInt(t, nfd, unix.SOL_SOCKET, unix.SO_SNDBUF, "SO_SNDBUF", 2*min(opts.WriteBuffer, wmemMax))
}

func TestValidate(t *testing.T) {
	ok := []ConnOptions{
		{},
		{KeepAlive: net.KeepAliveConfig{Enable: true, Idle: maxKeepIdle * time.Second, Interval: maxKeepIntvl * time.Second, Count: maxKeepCnt}},
		{KeepAlive: net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}},
		// Not enabled: the other fields are ignored.
		{KeepAlive: net.KeepAliveConfig{Idle: time.Hour * 24 * 365}},
	}
	for _, o := range ok {
		if err := o.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", o, err)
		}
	}
	bad := []ConnOptions{
		{KeepAlive: net.KeepAliveConfig{Enable: true, Idle: maxKeepIdle*time.Second + 1}},
		{KeepAlive: net.KeepAliveConfig{Enable: true, Interval: (maxKeepIntvl + 1) * time.Second}},
		{KeepAlive: net.KeepAliveConfig{Enable: true, Count: maxKeepCnt + 1}},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", o)
		}
	}
}

func TestSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0},
		{0, 0},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{time.Hour, 3600},
		{1 << 62, 1<<31 - 1},
	} {
		if got := seconds(tt.d); got != tt.want {
			t.Errorf("seconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// ServerListen maps a Server's fields to how it listens, for the library
// and for simple-server alike.
func TestServerListen(t *testing.T) {
	for _, tc := range []struct {
		network     string
		backlog     int
		deferAccept time.Duration
		reusePort   bool
		wantNet     string
		want        ListenOptions
	}{
		{"", 0, 0, false, "tcp", ListenOptions{Backlog: DefaultBacklog, DeferAccept: DefaultDeferAccept}},
		{"tcp4", 16, 2500 * time.Millisecond, true, "tcp4", ListenOptions{Backlog: 16, DeferAccept: 2500 * time.Millisecond, ReusePort: true}},
		{"tcp6", -1, -1, false, "tcp6", ListenOptions{Backlog: DefaultBacklog}},
		{"unix", 5, 0, false, "unix", ListenOptions{Backlog: 5}},
		{"unix", 0, time.Second, false, "unix", ListenOptions{Backlog: DefaultBacklog}},
	} {
		network, opt := ServerListen(tc.network, tc.backlog, tc.deferAccept, tc.reusePort)
		if network != tc.wantNet || opt != tc.want {
			t.Errorf("ServerListen(%q, %d, %v, %v) = %q, %+v; want %q, %+v",
				tc.network, tc.backlog, tc.deferAccept, tc.reusePort, network, opt, tc.wantNet, tc.want)
		}
	}
}
