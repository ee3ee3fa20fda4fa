package simpleserver

import (
	"testing"
	"unsafe"
)

// An idle connection's memory is mostly its Conn (bench/RESULTS.md, scenario
// (e): the target is 150 bytes of RSS per idle connection). 112 bytes is a
// heap size class, and Conn fills it: one field more moves it to the next,
// 128, which should be a decision, not an accident.
func TestConnStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 112 {
		t.Errorf("Conn is %d bytes, over its 112-byte budget: move what idle connections do not need to connRare", n)
	}
}
