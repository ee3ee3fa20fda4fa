//go:build race

package buffer

// raceEnabled: with the race detector sync.Pool drops items at random and
// allocation counts are meaningless.
const raceEnabled = true
