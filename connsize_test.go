package simpleserver

import (
	"testing"
	"unsafe"
)

// An idle connection's memory is mostly its Conn (bench/RESULTS.md, scenario
// (e): the target is 300 bytes of RSS per idle connection). 192 bytes is a
// heap size class of its own; one field more moves Conn to the next class,
// 208, which should be a decision, not an accident.
func TestConnStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 192 {
		t.Errorf("Conn is %d bytes, over its 192-byte budget: move what idle connections do not need to connRare", n)
	}
}
