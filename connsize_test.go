package simpleserver

import (
	"testing"
	"unsafe"
)

// An idle connection's memory is mostly its Conn (bench/RESULTS.md, scenario
// (e): the target is 150 bytes of RSS per idle connection). 144 bytes is a
// heap size class; a field more than Conn's 136 bytes leave room for moves
// it to the next class, 160, which should be a decision, not an accident.
func TestConnStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 144 {
		t.Errorf("Conn is %d bytes, over its 144-byte budget: move what idle connections do not need to connRare", n)
	}
}
