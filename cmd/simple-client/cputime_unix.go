//go:build unix

package main

import "syscall"

// cpuTimes is the process's CPU time so far, user and system, in seconds.
func cpuTimes() (t struct{ user, sys float64 }) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return t
	}
	sec := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	t.user, t.sys = sec(ru.Utime), sec(ru.Stime)
	return t
}
