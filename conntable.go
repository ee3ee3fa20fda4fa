package simpleserver

import "iter"

// connPageBits sizes a connTable page: 512 entries, 4 KiB.
const connPageBits = 9

// connTable maps a loop's descriptors to their connections. The kernel
// hands out the lowest free descriptor numbers, so the table is dense and
// a lookup is two indexings. It grows a page at a time and never moves an
// entry: a slice grown by doubling would leave a garbage copy behind at
// every doubling, some 30 bytes per connection of heap the idle server
// pays for until the next GC. Owned by the loop goroutine.
type connTable struct {
	pages []*[1 << connPageBits]*Conn
}

// get returns the connection on fd, or nil.
func (t *connTable) get(fd int) *Conn {
	p := fd >> connPageBits
	if fd < 0 || p >= len(t.pages) {
		return nil
	}
	return t.pages[p][fd&(1<<connPageBits-1)]
}

// set records c (or, with nil, no connection) on fd.
func (t *connTable) set(fd int, c *Conn) {
	p := fd >> connPageBits
	for p >= len(t.pages) {
		t.pages = append(t.pages, new([1 << connPageBits]*Conn))
	}
	t.pages[p][fd&(1<<connPageBits-1)] = c
}

// all yields every connection in the table. The loop body may remove the
// connection it is given.
func (t *connTable) all() iter.Seq[*Conn] {
	return func(yield func(*Conn) bool) {
		for _, p := range t.pages {
			for _, c := range p {
				if c != nil && !yield(c) {
					return
				}
			}
		}
	}
}
