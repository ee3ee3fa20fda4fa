package timer

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// checkHeap verifies the min-heap property over every index and that each
// entry's index matches its position.
func checkHeap(t *testing.T, h *Heap) {
	t.Helper()
	if h.Len() != len(h.entries) {
		t.Fatalf("Len() = %d, len(entries) = %d", h.Len(), len(h.entries))
	}
	for i, e := range h.entries {
		if e == nil {
			t.Fatalf("entries[%d] is nil", i)
		}
		if e.index != i {
			t.Fatalf("entries[%d].index = %d", i, e.index)
		}
		if i > 0 {
			p := (i - 1) / 2
			if h.entries[p].At > e.At {
				t.Fatalf("heap property: entries[%d].At=%v > entries[%d].At=%v", p, h.entries[p].At, i, e.At)
			}
		}
	}
	if len(h.entries) == 0 {
		if h.Min() != nil {
			t.Fatalf("Min() of empty heap = %v", h.Min())
		}
	} else if h.Min() != h.entries[0] {
		t.Fatalf("Min() is not entries[0]")
	}
	// The slot past len must not keep a removed entry alive.
	if c := cap(h.entries); c > len(h.entries) {
		if e := h.entries[:len(h.entries)+1][len(h.entries)]; e != nil && e.index != -1 {
			t.Fatalf("stale entry past len with index %d", e.index)
		}
	}
}

func inHeap(h *Heap, e *Entry) bool {
	return e.index >= 0 && e.index < len(h.entries) && h.entries[e.index] == e
}

func TestHeapEmpty(t *testing.T) {
	var h Heap
	checkHeap(t, &h)
	if e := h.PopDue(1 << 62); e != nil {
		t.Fatalf("PopDue on empty heap = %v", e)
	}
	// Removing a zero Entry (index 0) from an empty heap is a no-op.
	var e Entry
	h.Remove(&e)
	checkHeap(t, &h)
}

func TestHeapPopDueOrder(t *testing.T) {
	var h Heap
	r := rand.New(rand.NewPCG(3, 4))
	const k = 1000
	for range k {
		h.Push(&Entry{At: time.Duration(r.IntN(500))})
		checkHeap(t, &h)
	}
	if h.Len() != k {
		t.Fatalf("Len() = %d, want %d", h.Len(), k)
	}
	popped := 0
	last := time.Duration(-1)
	for now := time.Duration(-1); now < 520; now += 20 {
		for {
			e := h.PopDue(now)
			if e == nil {
				break
			}
			popped++
			if e.At > now {
				t.Fatalf("PopDue(%v) returned entry at %v", now, e.At)
			}
			if e.At < last {
				t.Fatalf("PopDue out of order: %v after %v", e.At, last)
			}
			if e.index != -1 {
				t.Fatalf("popped entry index = %d, want -1", e.index)
			}
			last = e.At
			checkHeap(t, &h)
		}
		// Everything left is strictly later than now.
		for _, e := range h.entries {
			if e.At <= now {
				t.Fatalf("entry at %v left in heap after draining to %v", e.At, now)
			}
		}
	}
	if popped != k || h.Len() != 0 {
		t.Fatalf("popped %d, %d left; want %d, 0", popped, h.Len(), k)
	}
}

func TestHeapPopDueBoundary(t *testing.T) {
	var h Heap
	e := &Entry{At: 10}
	h.Push(e)
	if got := h.PopDue(9); got != nil {
		t.Fatalf("PopDue(9) = %v for entry at 10", got.At)
	}
	if h.Len() != 1 || !inHeap(&h, e) {
		t.Fatal("PopDue of a not-due entry removed it")
	}
	if got := h.PopDue(10); got != e {
		t.Fatalf("PopDue(10) = %v, want the entry at 10", got)
	}
	checkHeap(t, &h)
}

func TestHeapEqualAt(t *testing.T) {
	var h Heap
	const k = 257
	es := make([]*Entry, k)
	for i := range es {
		es[i] = &Entry{At: 42}
		h.Push(es[i])
		checkHeap(t, &h)
	}
	// A few earlier and later ones mixed in.
	early, late := &Entry{At: 41}, &Entry{At: 43}
	h.Push(late)
	h.Push(early)
	checkHeap(t, &h)
	if got := h.PopDue(41); got != early {
		t.Fatalf("PopDue(41) = %v, want early", got)
	}
	if got := h.PopDue(41); got != nil {
		t.Fatalf("second PopDue(41) = %v, want nil", got.At)
	}
	seen := make(map[*Entry]bool)
	for {
		e := h.PopDue(42)
		if e == nil {
			break
		}
		if e.At != 42 {
			t.Fatalf("PopDue(42) returned At %v", e.At)
		}
		if seen[e] {
			t.Fatal("entry returned twice")
		}
		seen[e] = true
		checkHeap(t, &h)
	}
	if len(seen) != k {
		t.Fatalf("got %d entries at 42, want %d", len(seen), k)
	}
	if h.Len() != 1 || h.Min() != late {
		t.Fatalf("Len() = %d, want just the late entry", h.Len())
	}
}

func TestHeapRemove(t *testing.T) {
	build := func(k int) (*Heap, []*Entry) {
		h := new(Heap)
		es := make([]*Entry, k)
		r := rand.New(rand.NewPCG(uint64(k), 5))
		for i := range es {
			es[i] = &Entry{At: time.Duration(r.IntN(50))}
			h.Push(es[i])
		}
		checkHeap(t, h)
		return h, es
	}
	remove := func(t *testing.T, h *Heap, e *Entry) {
		t.Helper()
		n := h.Len()
		h.Remove(e)
		if e.index != -1 {
			t.Fatalf("removed entry index = %d, want -1", e.index)
		}
		if h.Len() != n-1 {
			t.Fatalf("Len() = %d after Remove, want %d", h.Len(), n-1)
		}
		for _, x := range h.entries {
			if x == e {
				t.Fatal("removed entry still in heap")
			}
		}
		checkHeap(t, h)
	}

	t.Run("min", func(t *testing.T) {
		h, _ := build(50)
		for h.Len() > 0 {
			m := h.Min()
			remove(t, h, m)
			if h.Len() > 0 && h.Min().At < m.At {
				t.Fatalf("new min %v below removed min %v", h.Min().At, m.At)
			}
		}
	})
	t.Run("last", func(t *testing.T) {
		h, _ := build(50)
		for h.Len() > 0 {
			remove(t, h, h.entries[h.Len()-1])
		}
	})
	t.Run("each-position", func(t *testing.T) {
		for k := 1; k <= 33; k++ {
			for i := range k {
				h, _ := build(k)
				remove(t, h, h.entries[i])
			}
		}
	})
	t.Run("needs-up", func(t *testing.T) {
		// Removing from one subtree moves the last entry (from the other
		// subtree) into its place, where it may be smaller than its new
		// parent and have to sift up.
		//          0
		//      10      1
		//    11  12   2  3
		h := new(Heap)
		for _, at := range []time.Duration{0, 10, 1, 11, 12, 2, 3} {
			h.Push(&Entry{At: at})
		}
		checkHeap(t, h)
		var victim *Entry
		for _, e := range h.entries {
			if e.At == 11 {
				victim = e
			}
		}
		if victim == nil {
			t.Fatal("layout differs from expected")
		}
		remove(t, h, victim)
		var got []time.Duration
		for h.Len() > 0 {
			got = append(got, h.PopDue(1<<62).At)
		}
		if want := []time.Duration{0, 1, 2, 3, 10, 12}; !slices.Equal(got, want) {
			t.Fatalf("drained %v, want %v", got, want)
		}
	})
	t.Run("not-in-heap", func(t *testing.T) {
		h, es := build(20)
		// A zero Entry has index 0 but is not entries[0].
		h.Remove(&Entry{})
		checkHeap(t, h)
		// An entry with an index past the end.
		h.Remove(&Entry{index: 1000})
		h.Remove(&Entry{index: -1})
		checkHeap(t, h)
		if h.Len() != 20 {
			t.Fatalf("Len() = %d, want 20", h.Len())
		}
		// An entry of another heap whose index is valid here too.
		other, oes := build(20)
		for _, e := range oes {
			h.Remove(e)
			checkHeap(t, h)
			if !inHeap(other, e) {
				t.Fatal("Remove on the wrong heap disturbed the other heap")
			}
		}
		checkHeap(t, other)
		if h.Len() != 20 || other.Len() != 20 {
			t.Fatalf("Len() = %d, %d; want 20, 20", h.Len(), other.Len())
		}
		// Already removed: the second Remove is a no-op.
		e := es[7]
		remove(t, h, e)
		h.Remove(e)
		checkHeap(t, h)
		if h.Len() != 19 {
			t.Fatalf("Len() = %d after double Remove, want 19", h.Len())
		}
		// Popped entries too.
		p := h.PopDue(1 << 62)
		h.Remove(p)
		checkHeap(t, h)
		if h.Len() != 18 {
			t.Fatalf("Len() = %d, want 18", h.Len())
		}
		// And the removed entry can be pushed again.
		h.Push(e)
		checkHeap(t, h)
		if !inHeap(h, e) || h.Len() != 19 {
			t.Fatal("re-pushed entry not in heap")
		}
	})
}

// TestHeapModel compares the heap with a sorted-slice model over random
// pushes, removes and pops. Deadlines come from a small range so that
// ties are common; among equal At either entry is an acceptable answer.
func TestHeapModel(t *testing.T) {
	const (
		pool = 128
		ops  = 20000
	)
	r := rand.New(rand.NewPCG(7, 8))
	var h Heap
	es := make([]*Entry, pool)
	for i := range es {
		es[i] = &Entry{index: -1}
	}
	var model []*Entry // sorted by At
	cmp := func(a, b *Entry) int { return int(a.At - b.At) }
	modelHas := func(e *Entry) int {
		for i, x := range model {
			if x == e {
				return i
			}
		}
		return -1
	}

	for op := range ops {
		e := es[r.IntN(pool)]
		switch k := r.IntN(10); {
		case k < 4: // Push if not already in
			if modelHas(e) >= 0 {
				break
			}
			e.At = time.Duration(r.IntN(200))
			h.Push(e)
			i, _ := slices.BinarySearchFunc(model, e, cmp)
			model = slices.Insert(model, i, e)
		case k < 7: // Remove, in the heap or not
			h.Remove(e)
			if i := modelHas(e); i >= 0 {
				model = slices.Delete(model, i, i+1)
			}
			if e.index != -1 {
				t.Fatalf("op %d: removed entry index %d", op, e.index)
			}
		default: // PopDue all due at a random now
			now := time.Duration(r.IntN(220)) - 10
			for {
				got := h.PopDue(now)
				if len(model) == 0 || model[0].At > now {
					if got != nil {
						t.Fatalf("op %d: PopDue(%v) = %v, model has nothing due", op, now, got.At)
					}
					break
				}
				if got == nil {
					t.Fatalf("op %d: PopDue(%v) = nil, model min %v", op, now, model[0].At)
				}
				if got.At != model[0].At {
					t.Fatalf("op %d: PopDue(%v).At = %v, want %v", op, now, got.At, model[0].At)
				}
				i := modelHas(got)
				if i < 0 || model[i].At != got.At {
					t.Fatalf("op %d: PopDue returned an entry not in the model", op)
				}
				model = slices.Delete(model, i, i+1)
				checkHeap(t, &h)
			}
		}
		checkHeap(t, &h)
		if h.Len() != len(model) {
			t.Fatalf("op %d: Len() = %d, model %d", op, h.Len(), len(model))
		}
		if len(model) > 0 && h.Min().At != model[0].At {
			t.Fatalf("op %d: Min().At = %v, model %v", op, h.Min().At, model[0].At)
		}
		for _, x := range model {
			if !inHeap(&h, x) {
				t.Fatalf("op %d: model entry not in heap", op)
			}
		}
	}
}

// BenchmarkHeapPushPop pops the minimum and pushes it back later, with
// 10,000 entries resident.
func BenchmarkHeapPushPop(b *testing.B) {
	const k = 10000
	var h Heap
	es := make([]Entry, k)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range es {
		es[i].At = time.Duration(r.IntN(k))
		h.Push(&es[i])
	}
	b.ReportAllocs()
	for b.Loop() {
		m := h.Min()
		e := h.PopDue(m.At)
		e.At += time.Duration(1 + r.IntN(k))
		h.Push(e)
	}
	if h.Len() != k {
		b.Fatalf("Len() = %d", h.Len())
	}
}
