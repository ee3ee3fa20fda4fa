//go:build !linux

package main

import "testing"

func testIdle10k(t *testing.T, bin string) {
	t.Skip("the 10,000-connection client is an epoll set (e2e_http_idle_linux_test.go)")
}
