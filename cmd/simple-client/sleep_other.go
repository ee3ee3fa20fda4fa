//go:build !linux

package main

import (
	"errors"
	"time"
)

// sleeper waits for moments on the run's schedule with a time.Timer; see
// sleep_linux.go for why Linux uses a timerfd instead.
type sleeper struct {
	t    *time.Timer
	done chan struct{}
}

func newSleeper() (*sleeper, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &sleeper{t: t, done: make(chan struct{})}, nil
}

func (s *sleeper) sleep(d time.Duration) error {
	s.t.Reset(d)
	select {
	case <-s.t.C:
		return nil
	case <-s.done:
		return errors.New("sleeper closed")
	}
}

func (s *sleeper) close() { close(s.done) }
