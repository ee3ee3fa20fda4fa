package main

import "syscall"

// cpuTimes is the process's CPU time so far, user and system, in seconds.
func cpuTimes() (t struct{ user, sys float64 }) {
	var creation, exit, kernel, user syscall.Filetime
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return t
	}
	if err := syscall.GetProcessTimes(h, &creation, &exit, &kernel, &user); err != nil {
		return t
	}
	// Filetimes count 100 ns intervals; as durations they start in 1601,
	// so take the raw count.
	sec := func(ft syscall.Filetime) float64 {
		return float64(uint64(ft.HighDateTime)<<32|uint64(ft.LowDateTime)) / 1e7
	}
	t.user, t.sys = sec(user), sec(kernel)
	return t
}
