package simpleserver

import (
	"slices"
	"testing"
)

func TestConnTable(t *testing.T) {
	var tab connTable
	page := 1 << connPageBits
	fds := []int{0, 3, page - 1, page, 3*page + 7}
	conns := map[int]*Conn{}
	for _, fd := range fds {
		conns[fd] = &Conn{fd: int32(fd)}
		tab.set(fd, conns[fd])
	}
	if len(tab.pages) != 4 {
		t.Fatalf("%d pages for descriptors up to %d, want 4", len(tab.pages), 3*page+7)
	}
	for fd := -1; fd < 5*page; fd++ {
		if got := tab.get(fd); got != conns[fd] {
			t.Fatalf("get(%d) = %v, want %v", fd, got, conns[fd])
		}
	}
	// all yields in descriptor order, and tolerates removing the
	// connection it yields.
	var seen []int
	for c := range tab.all() {
		seen = append(seen, int(c.fd))
		tab.set(int(c.fd), nil)
	}
	if !slices.Equal(seen, fds) {
		t.Fatalf("all yielded %v, want %v", seen, fds)
	}
	for range tab.all() {
		t.Fatal("all yielded a removed connection")
	}
	for _, fd := range fds {
		if tab.get(fd) != nil {
			t.Fatalf("get(%d) after removal = %v", fd, tab.get(fd))
		}
	}
}
