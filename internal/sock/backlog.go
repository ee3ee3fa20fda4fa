//go:build linux && !simpleserver_portable

package sock

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Backlog returns the backlog Listen will effectively get for a request:
// DefaultBacklog when requested <= 0, and never more than the
// net.core.somaxconn sysctl.
//
// listen(2) silently truncates its backlog argument to somaxconn. We do the
// truncation ourselves only so that the caller can report the value that is
// actually in force instead of the one it asked for.
//
// somaxconn is read on every call: it is per network namespace and can be
// changed at run time, and the kernel reads it at listen time too. If it
// cannot be read (no /proc), the cap is unix.SOMAXCONN, the kernel default
// since Linux 5.4.
func Backlog(requested int) int {
	if requested <= 0 {
		requested = DefaultBacklog
	}
	if max := somaxconn(); requested > max {
		return max
	}
	return requested
}

func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return unix.SOMAXCONN
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		// The sysctl's range is [0, INT_MAX]; anything else means we
		// misread it, so fall back to the default rather than guess.
		return unix.SOMAXCONN
	}
	return n
}
