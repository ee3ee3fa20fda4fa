package timer

import "time"

// Entry is an element of a Heap.
type Entry struct {
	// At is when the entry is due.
	At time.Duration
	// Fn runs when the entry is due.
	Fn    func()
	index int // position in the heap; -1 when not in one
}

// Heap is a binary min-heap of entries by At, for deadlines that do not
// share one duration.
type Heap struct {
	entries []*Entry
}

// Len is the number of entries.
func (h *Heap) Len() int { return len(h.entries) }

// Min returns the entry due first, or nil.
func (h *Heap) Min() *Entry {
	if len(h.entries) == 0 {
		return nil
	}
	return h.entries[0]
}

// Push adds e, which must not be in a heap.
func (h *Heap) Push(e *Entry) {
	e.index = len(h.entries)
	h.entries = append(h.entries, e)
	h.up(e.index)
}

// Remove takes e out of the heap if it is in it.
func (h *Heap) Remove(e *Entry) {
	i := e.index
	if i < 0 || i >= len(h.entries) || h.entries[i] != e {
		return
	}
	last := len(h.entries) - 1
	if i != last {
		h.swap(i, last)
	}
	h.entries[last] = nil
	h.entries = h.entries[:last]
	e.index = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// PopDue removes and returns the first entry due at or before now, or nil.
func (h *Heap) PopDue(now time.Duration) *Entry {
	e := h.Min()
	if e == nil || e.At > now {
		return nil
	}
	h.Remove(e)
	return e
}

func (h *Heap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h.entries[p].At <= h.entries[i].At {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *Heap) down(i int) {
	n := len(h.entries)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.entries[r].At < h.entries[l].At {
			m = r
		}
		if h.entries[i].At <= h.entries[m].At {
			return
		}
		h.swap(i, m)
		i = m
	}
}

func (h *Heap) swap(i, j int) {
	h.entries[i], h.entries[j] = h.entries[j], h.entries[i]
	h.entries[i].index = i
	h.entries[j].index = j
}
