package timer

import (
	"math/rand/v2"
	"testing"
	"time"
)

// checkList verifies every structural invariant of l and that its nodes,
// walked from the front, are exactly want (in order).
func checkList[T any](t *testing.T, l *List[T], want []*Node[T]) {
	t.Helper()
	if got := l.Len(); got != len(want) {
		t.Fatalf("Len() = %d, want %d", got, len(want))
	}
	if l.n != len(want) {
		t.Fatalf("l.n = %d, want %d", l.n, len(want))
	}
	if len(want) == 0 {
		if l.head != nil || l.tail != nil || l.Front() != nil {
			t.Fatalf("empty list has head=%p tail=%p", l.head, l.tail)
		}
		return
	}
	if l.Front() != want[0] {
		t.Fatalf("Front() = %p, want %p", l.Front(), want[0])
	}
	if l.head.prev != nil {
		t.Fatalf("head.prev = %p, want nil", l.head.prev)
	}
	if l.tail.next != nil {
		t.Fatalf("tail.next = %p, want nil", l.tail.next)
	}
	// Forward walk.
	var prev *Node[T]
	i := 0
	for n := l.Front(); n != nil; n = n.next {
		if i >= len(want) {
			t.Fatalf("forward walk longer than %d nodes (cycle?)", len(want))
		}
		if n != want[i] {
			t.Fatalf("forward walk: node %d = %p, want %p", i, n, want[i])
		}
		if n.prev != prev {
			t.Fatalf("node %d: prev = %p, want %p", i, n.prev, prev)
		}
		if n.list != l || !n.Linked() {
			t.Fatalf("node %d: list = %p, want %p", i, n.list, l)
		}
		if prev != nil && prev.At > n.At {
			t.Fatalf("node %d: At %v before predecessor's %v", i, n.At, prev.At)
		}
		prev = n
		i++
	}
	if i != len(want) {
		t.Fatalf("forward walk visited %d nodes, want %d", i, len(want))
	}
	if l.tail != prev {
		t.Fatalf("tail = %p, want last walked node %p", l.tail, prev)
	}
	// Backward walk.
	i = len(want) - 1
	for n := l.tail; n != nil; n = n.prev {
		if i < 0 {
			t.Fatalf("backward walk longer than %d nodes (cycle?)", len(want))
		}
		if n != want[i] {
			t.Fatalf("backward walk: node %d = %p, want %p", i, n, want[i])
		}
		i--
	}
	if i != -1 {
		t.Fatalf("backward walk stopped with %d nodes unvisited", i+1)
	}
}

// checkUnlinked verifies n carries no stale links.
func checkUnlinked[T any](t *testing.T, n *Node[T]) {
	t.Helper()
	if n.Linked() || n.list != nil || n.prev != nil || n.next != nil {
		t.Fatalf("unlinked node has list=%p prev=%p next=%p", n.list, n.prev, n.next)
	}
}

func newNodes(k int) []*Node[int] {
	ns := make([]*Node[int], k)
	for i := range ns {
		ns[i] = &Node[int]{Value: i}
	}
	return ns
}

func TestListZero(t *testing.T) {
	var l List[int]
	checkList(t, &l, nil)
	var n Node[int]
	checkUnlinked(t, &n)
	l.Remove(&n) // no-op on an empty list
	checkList(t, &l, nil)
	checkUnlinked(t, &n)
}

func TestListPushOrder(t *testing.T) {
	var l List[int]
	ns := newNodes(1000)
	for i, n := range ns {
		l.PushBack(n, time.Duration(i)*time.Millisecond)
		if l.Len() != i+1 {
			t.Fatalf("after %d pushes Len() = %d", i+1, l.Len())
		}
		if l.Front() != ns[0] {
			t.Fatalf("after %d pushes Front() = node %d", i+1, l.Front().Value)
		}
		if !n.Linked() {
			t.Fatalf("node %d not linked after PushBack", i)
		}
		if n.At != time.Duration(i)*time.Millisecond {
			t.Fatalf("node %d: At = %v", i, n.At)
		}
	}
	checkList(t, &l, ns)
	// Front order equals push order when draining from the front.
	for i := range ns {
		f := l.Front()
		if f != ns[i] || f.Value != i {
			t.Fatalf("drain %d: Front() = %v", i, f.Value)
		}
		l.Remove(f)
		checkUnlinked(t, f)
		if l.Len() != len(ns)-i-1 {
			t.Fatalf("drain %d: Len() = %d", i, l.Len())
		}
	}
	checkList(t, &l, nil)
}

func TestListRearmMovesToTail(t *testing.T) {
	var l List[int]
	ns := newNodes(5)
	for i, n := range ns {
		l.PushBack(n, time.Duration(i))
	}
	at := time.Duration(len(ns))
	rearm := func(n *Node[int], want []*Node[int]) {
		t.Helper()
		l.PushBack(n, at)
		if n.At != at {
			t.Fatalf("re-armed node %d: At = %v, want %v", n.Value, n.At, at)
		}
		at++
		checkList(t, &l, want)
	}
	// Middle.
	rearm(ns[2], []*Node[int]{ns[0], ns[1], ns[3], ns[4], ns[2]})
	// Head.
	rearm(ns[0], []*Node[int]{ns[1], ns[3], ns[4], ns[2], ns[0]})
	// Tail: stays put, but its deadline moves.
	rearm(ns[0], []*Node[int]{ns[1], ns[3], ns[4], ns[2], ns[0]})
	// Everyone in turn, back to the original order.
	for _, n := range ns {
		l.PushBack(n, at)
		at++
	}
	checkList(t, &l, ns)

	// A single-node list re-armed in place.
	var one List[int]
	n := &Node[int]{}
	one.PushBack(n, 1)
	one.PushBack(n, 2)
	checkList(t, &one, []*Node[int]{n})
	if n.At != 2 {
		t.Fatalf("At = %v, want 2", n.At)
	}
}

func TestListRemovePositions(t *testing.T) {
	build := func(k int) (*List[int], []*Node[int]) {
		l := new(List[int])
		ns := newNodes(k)
		for i, n := range ns {
			l.PushBack(n, time.Duration(i))
		}
		checkList(t, l, ns)
		return l, ns
	}
	without := func(ns []*Node[int], i int) []*Node[int] {
		out := append([]*Node[int](nil), ns[:i]...)
		return append(out, ns[i+1:]...)
	}

	t.Run("head", func(t *testing.T) {
		l, ns := build(4)
		l.Remove(ns[0])
		checkUnlinked(t, ns[0])
		checkList(t, l, without(ns, 0))
	})
	t.Run("middle", func(t *testing.T) {
		l, ns := build(4)
		l.Remove(ns[2])
		checkUnlinked(t, ns[2])
		checkList(t, l, without(ns, 2))
	})
	t.Run("tail", func(t *testing.T) {
		l, ns := build(4)
		l.Remove(ns[3])
		checkUnlinked(t, ns[3])
		checkList(t, l, without(ns, 3))
		// The new tail still accepts appends correctly.
		l.PushBack(ns[3], 10)
		checkList(t, l, ns)
	})
	t.Run("only", func(t *testing.T) {
		l, ns := build(1)
		l.Remove(ns[0])
		checkUnlinked(t, ns[0])
		checkList(t, l, nil)
		// And the emptied list is reusable.
		l.PushBack(ns[0], 5)
		checkList(t, l, ns)
	})
	t.Run("two", func(t *testing.T) {
		l, ns := build(2)
		l.Remove(ns[1])
		checkList(t, l, ns[:1])
		l.Remove(ns[0])
		checkList(t, l, nil)
	})
	t.Run("all-from-middle", func(t *testing.T) {
		l, ns := build(7)
		want := ns
		for _, i := range []int{3, 1, 4, 0, 2, 1, 0} {
			n := want[i]
			want = without(want, i)
			l.Remove(n)
			checkUnlinked(t, n)
			checkList(t, l, want)
		}
	})
}

func TestListRemoveNotMember(t *testing.T) {
	var a, b List[int]
	ns := newNodes(6)
	for i, n := range ns[:3] {
		a.PushBack(n, time.Duration(i))
	}
	for i, n := range ns[3:] {
		b.PushBack(n, time.Duration(i))
	}

	// Unlinked node: no-op, twice.
	free := &Node[int]{Value: 99}
	a.Remove(free)
	a.Remove(free)
	checkUnlinked(t, free)
	checkList(t, &a, ns[:3])

	// Node of another list, at each position: no-op on both lists.
	for _, n := range ns[3:] {
		a.Remove(n)
		checkList(t, &a, ns[:3])
		checkList(t, &b, ns[3:])
	}
	for _, n := range ns[:3] {
		b.Remove(n)
		checkList(t, &a, ns[:3])
		checkList(t, &b, ns[3:])
	}

	// Already-removed node: the second Remove is a no-op.
	a.Remove(ns[1])
	checkList(t, &a, []*Node[int]{ns[0], ns[2]})
	a.Remove(ns[1])
	checkUnlinked(t, ns[1])
	checkList(t, &a, []*Node[int]{ns[0], ns[2]})

	// Remove from an empty list of a node linked elsewhere.
	var empty List[int]
	empty.Remove(ns[0])
	checkList(t, &empty, nil)
	checkList(t, &a, []*Node[int]{ns[0], ns[2]})
}

func TestListPushMovesBetweenLists(t *testing.T) {
	var a, b List[int]
	ns := newNodes(4)
	for i, n := range ns {
		a.PushBack(n, time.Duration(i))
	}
	b.PushBack(ns[1], 10) // middle of a
	checkList(t, &a, []*Node[int]{ns[0], ns[2], ns[3]})
	checkList(t, &b, []*Node[int]{ns[1]})
	b.PushBack(ns[3], 11) // tail of a
	checkList(t, &a, []*Node[int]{ns[0], ns[2]})
	checkList(t, &b, []*Node[int]{ns[1], ns[3]})
	b.PushBack(ns[0], 12) // head of a
	checkList(t, &a, []*Node[int]{ns[2]})
	checkList(t, &b, []*Node[int]{ns[1], ns[3], ns[0]})
	b.PushBack(ns[2], 13) // only node of a
	checkList(t, &a, nil)
	checkList(t, &b, []*Node[int]{ns[1], ns[3], ns[0], ns[2]})
}

// TestListModel drives two lists with random operations over a shared pool
// of nodes and compares them with slice models after every step.
func TestListModel(t *testing.T) {
	const (
		pool = 64
		ops  = 20000
	)
	r := rand.New(rand.NewPCG(1, 2))
	lists := [2]*List[int]{new(List[int]), new(List[int])}
	var models [2][]*Node[int]
	owner := make(map[*Node[int]]int) // node -> index of its list
	ns := newNodes(pool)
	var at time.Duration

	removeFromModel := func(li int, n *Node[int]) {
		m := models[li]
		for i, x := range m {
			if x == n {
				models[li] = append(m[:i:i], m[i+1:]...)
				return
			}
		}
		t.Fatalf("node %d not in model %d", n.Value, li)
	}

	for op := range ops {
		n := ns[r.IntN(pool)]
		li := r.IntN(2)
		l := lists[li]
		switch k := r.IntN(10); {
		case k < 5: // PushBack (arm or re-arm, possibly moving lists)
			at += time.Duration(r.IntN(3)) // equal deadlines allowed
			if o, ok := owner[n]; ok {
				removeFromModel(o, n)
			}
			l.PushBack(n, at)
			models[li] = append(models[li], n)
			owner[n] = li
			if n.At != at {
				t.Fatalf("op %d: At = %v, want %v", op, n.At, at)
			}
		case k < 8: // Remove (member, other list's member, or unlinked)
			l.Remove(n)
			if o, ok := owner[n]; ok && o == li {
				removeFromModel(li, n)
				delete(owner, n)
			}
		default: // expire from the front
			if f := l.Front(); f != nil {
				if len(models[li]) == 0 || models[li][0] != f {
					t.Fatalf("op %d: Front mismatch", op)
				}
				l.Remove(f)
				models[li] = models[li][1:]
				delete(owner, f)
			} else if len(models[li]) != 0 {
				t.Fatalf("op %d: Front() = nil, model has %d", op, len(models[li]))
			}
		}
		for i := range lists {
			checkList(t, lists[i], models[i])
		}
		for _, x := range ns {
			o, ok := owner[x]
			switch {
			case !ok && x.Linked():
				t.Fatalf("op %d: node %d linked, model says not", op, x.Value)
			case !ok:
				checkUnlinked(t, x)
			case x.list != lists[o]:
				t.Fatalf("op %d: node %d in wrong list", op, x.Value)
			}
		}
	}
}

func BenchmarkListTouch(b *testing.B) {
	const k = 10000
	var l List[int]
	ns := make([]Node[int], k)
	for i := range ns {
		ns[i].Value = i
		l.PushBack(&ns[i], time.Duration(i))
	}
	at := time.Duration(k)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		// Scatter touches so they hit head, middle and tail positions.
		i = (i + 7919) % k
		l.PushBack(&ns[i], at)
		at++
	}
	if l.Len() != k {
		b.Fatalf("Len() = %d", l.Len())
	}
}

func TestListTouchAllocs(t *testing.T) {
	const k = 10000
	var l List[int]
	ns := make([]Node[int], k)
	for i := range ns {
		l.PushBack(&ns[i], time.Duration(i))
	}
	at := time.Duration(k)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i = (i + 7919) % k
		l.PushBack(&ns[i], at)
		at++
	})
	if allocs != 0 {
		t.Fatalf("PushBack re-arm allocates %v times per op, want 0", allocs)
	}
}

// BenchmarkListExpire measures the expiry path: the loop's clock advances,
// due nodes come off the front, and (as a connection would) re-arm at the
// tail, keeping 10,000 nodes resident. One expiry per op.
func BenchmarkListExpire(b *testing.B) {
	const (
		k       = 10000
		timeout = time.Duration(k)
	)
	var l List[int]
	ns := make([]Node[int], k)
	for i := range ns {
		l.PushBack(&ns[i], time.Duration(i))
	}
	var now time.Duration
	expired := 0
	b.ReportAllocs()
	for b.Loop() {
		for f := l.Front(); f != nil && f.At <= now; f = l.Front() {
			l.Remove(f)
			expired++
			l.PushBack(f, now+timeout)
		}
		now++
	}
	if l.Len() != k {
		b.Fatalf("Len() = %d", l.Len())
	}
	_ = expired
}
