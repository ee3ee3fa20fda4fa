//go:build linux

package simpleserver_test

// The child process of TestFDExhaustionBacksOffAndRecovers and what the
// parent reads of it: its output, its CPU time, its free descriptors.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdChild is the running child process.
type fdChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // its stdout, line by line; closed at EOF
	stderr syncBuffer
	waited chan error // receives Wait's result once
}

func startFDChild(t *testing.T) *fdChild {
	t.Helper()
	ch := &fdChild{lines: make(chan string, 16), waited: make(chan error, 1)}
	ch.cmd = exec.Command(os.Args[0], "-test.run=^TestFDExhaustionChild$", "-test.count=1", "-test.timeout=60s")
	ch.cmd.Env = append(os.Environ(), fdChildEnv+"=1")
	ch.cmd.Stderr = &ch.stderr
	var err error
	if ch.stdin, err = ch.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := ch.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
		close(ch.lines)
		// Wait only once stdout is read to its end, as exec requires.
		ch.waited <- ch.cmd.Wait()
	}()
	t.Cleanup(func() {
		// Normally the child has exited already. If the test failed
		// half way, stop it, and wait so no goroutine outlives the test.
		ch.stdin.Close()
		select {
		case err := <-ch.waited:
			ch.waited <- err
		case <-time.After(testDeadline):
			ch.cmd.Process.Kill()
			for range ch.lines {
			}
			ch.waited <- <-ch.waited
		}
		if t.Failed() {
			t.Logf("child stderr:\n%s", ch.stderr.String())
		}
	})
	return ch
}

// line returns the child's next line of output.
func (ch *fdChild) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-ch.lines:
		if !ok {
			t.Fatalf("child ended its output early; stderr:\n%s", ch.stderr.String())
		}
		return l
	case <-deadline():
		t.Fatal("no output from child")
	}
	return ""
}

// cpuTicks returns the user plus system CPU time, in clock ticks, that
// process pid (all its threads) has used.
func cpuTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after it start with field 3, state.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseUint(f[14-3], 10, 64)
	stime, err2 := strconv.ParseUint(f[15-3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("parsing /proc/%d/stat: %v", pid, err)
	}
	return utime + stime
}

// clockTicks is the kernel's USER_HZ (sysconf(_SC_CLK_TCK)), which the
// kernel passes to every process as AT_CLKTCK in its auxiliary vector.
func clockTicks(t *testing.T) float64 {
	t.Helper()
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		t.Fatal(err)
	}
	// (type, value) pairs of native words.
	word := func(b []byte) uint64 {
		if strconv.IntSize == 32 {
			return uint64(binary.NativeEndian.Uint32(b))
		}
		return binary.NativeEndian.Uint64(b)
	}
	for w := strconv.IntSize / 8; len(b) >= 2*w; b = b[2*w:] {
		if word(b) == atClkTck {
			return float64(word(b[w:]))
		}
	}
	t.Fatal("no AT_CLKTCK in /proc/self/auxv")
	return 0
}

// nthFreeDescriptor returns the n-th lowest descriptor number not in
// use. It probes with fcntl rather than listing /proc/self/fd, which
// would itself take a descriptor.
func nthFreeDescriptor(t *testing.T, n int) int {
	t.Helper()
	for fd := 0; fd < 1<<20; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
			if n--; n == 0 {
				return fd
			}
		}
	}
	t.Fatal("no free descriptor numbers")
	return 0
}
