package http1_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a
// Handler's worker, a body deadline's timer, a pipe reader never woken.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
