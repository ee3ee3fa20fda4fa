package timer

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// checkList verifies every structural invariant of l and that its nodes,
// walked from the front, are exactly want (in order).
func checkList(t *testing.T, l *List, want []*Node) {
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
	var prev *Node
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
		if !l.Contains(n) {
			t.Fatalf("node %d: walked but not contained", i)
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

// checkUnlinked verifies that n, one of l's nodes, is out of l and
// carries no stale links.
func checkUnlinked(t *testing.T, l *List, n *Node) {
	t.Helper()
	if l.Contains(n) || n.prev != nil || n.next != nil {
		t.Fatalf("unlinked node: contained %v, prev=%p next=%p", l.Contains(n), n.prev, n.next)
	}
}

// item is a node's owner, as a connection is: the node is embedded in it.
type item struct {
	v    int
	node Node
}

func value(n *Node) int { return Owner[item](n, unsafe.Offsetof(item{}.node)).v }

func newNodes(k int) []*Node {
	ns := make([]*Node, k)
	for i := range ns {
		ns[i] = &(&item{v: i}).node
	}
	return ns
}

// Owner finds the item a node is embedded in, wherever the node's field
// sits in it.
func TestOwner(t *testing.T) {
	type wide struct {
		head [3]uint64
		node Node
		tail int
	}
	w := &wide{head: [3]uint64{1, 2, 3}, tail: 7}
	if got := Owner[wide](&w.node, unsafe.Offsetof(wide{}.node)); got != w || got.head[2] != 3 || got.tail != 7 {
		t.Fatalf("Owner = %p, want %p", got, w)
	}
	for i, n := range newNodes(5) {
		if value(n) != i {
			t.Fatalf("node %d: owner's value %d", i, value(n))
		}
	}
}

func TestListZero(t *testing.T) {
	var l List
	checkList(t, &l, nil)
	var n Node
	checkUnlinked(t, &l, &n)
	l.Remove(&n) // no-op on an empty list
	checkList(t, &l, nil)
	checkUnlinked(t, &l, &n)
}

func TestListPushOrder(t *testing.T) {
	var l List
	ns := newNodes(1000)
	for i, n := range ns {
		l.PushBack(n, time.Duration(i)*time.Millisecond)
		if l.Len() != i+1 {
			t.Fatalf("after %d pushes Len() = %d", i+1, l.Len())
		}
		if l.Front() != ns[0] {
			t.Fatalf("after %d pushes Front() = node %d", i+1, value(l.Front()))
		}
		if !l.Contains(n) {
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
		if f != ns[i] || value(f) != i {
			t.Fatalf("drain %d: Front() = %v", i, value(f))
		}
		l.Remove(f)
		checkUnlinked(t, &l, f)
		if l.Len() != len(ns)-i-1 {
			t.Fatalf("drain %d: Len() = %d", i, l.Len())
		}
	}
	checkList(t, &l, nil)
}

func TestListRearmMovesToTail(t *testing.T) {
	var l List
	ns := newNodes(5)
	for i, n := range ns {
		l.PushBack(n, time.Duration(i))
	}
	at := time.Duration(len(ns))
	rearm := func(n *Node, want []*Node) {
		t.Helper()
		l.PushBack(n, at)
		if n.At != at {
			t.Fatalf("re-armed node %d: At = %v, want %v", value(n), n.At, at)
		}
		at++
		checkList(t, &l, want)
	}
	// Middle.
	rearm(ns[2], []*Node{ns[0], ns[1], ns[3], ns[4], ns[2]})
	// Head.
	rearm(ns[0], []*Node{ns[1], ns[3], ns[4], ns[2], ns[0]})
	// Tail: stays put, but its deadline moves.
	rearm(ns[0], []*Node{ns[1], ns[3], ns[4], ns[2], ns[0]})
	// Everyone in turn, back to the original order.
	for _, n := range ns {
		l.PushBack(n, at)
		at++
	}
	checkList(t, &l, ns)

	// A single-node list re-armed in place.
	var one List
	n := &Node{}
	one.PushBack(n, 1)
	one.PushBack(n, 2)
	checkList(t, &one, []*Node{n})
	if n.At != 2 {
		t.Fatalf("At = %v, want 2", n.At)
	}
}

func TestListRemovePositions(t *testing.T) {
	build := func(k int) (*List, []*Node) {
		l := new(List)
		ns := newNodes(k)
		for i, n := range ns {
			l.PushBack(n, time.Duration(i))
		}
		checkList(t, l, ns)
		return l, ns
	}
	without := func(ns []*Node, i int) []*Node {
		out := append([]*Node(nil), ns[:i]...)
		return append(out, ns[i+1:]...)
	}

	t.Run("head", func(t *testing.T) {
		l, ns := build(4)
		l.Remove(ns[0])
		checkUnlinked(t, l, ns[0])
		checkList(t, l, without(ns, 0))
	})
	t.Run("middle", func(t *testing.T) {
		l, ns := build(4)
		l.Remove(ns[2])
		checkUnlinked(t, l, ns[2])
		checkList(t, l, without(ns, 2))
	})
	t.Run("tail", func(t *testing.T) {
		l, ns := build(4)
		l.Remove(ns[3])
		checkUnlinked(t, l, ns[3])
		checkList(t, l, without(ns, 3))
		// The new tail still accepts appends correctly.
		l.PushBack(ns[3], 10)
		checkList(t, l, ns)
	})
	t.Run("only", func(t *testing.T) {
		l, ns := build(1)
		l.Remove(ns[0])
		checkUnlinked(t, l, ns[0])
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
			checkUnlinked(t, l, n)
			checkList(t, l, want)
		}
	})
}

func TestListRemoveNotMember(t *testing.T) {
	var l List
	ns := newNodes(3)
	for i, n := range ns {
		l.PushBack(n, time.Duration(i))
	}

	// Unlinked node: no-op, twice.
	free := newNodes(1)[0]
	l.Remove(free)
	l.Remove(free)
	checkUnlinked(t, &l, free)
	checkList(t, &l, ns)

	// Already-removed node, at each position: the second Remove is a
	// no-op.
	for _, i := range []int{1, 0, 0} {
		n := ns[i]
		ns = append(ns[:i:i], ns[i+1:]...)
		l.Remove(n)
		checkList(t, &l, ns)
		l.Remove(n)
		checkUnlinked(t, &l, n)
		checkList(t, &l, ns)
	}
}

// TestListModel drives a list with random operations over a pool of its
// nodes and compares it with a slice model after every step.
func TestListModel(t *testing.T) {
	const (
		pool = 64
		ops  = 20000
	)
	r := rand.New(rand.NewPCG(1, 2))
	var l List
	var model []*Node
	in := make(map[*Node]bool)
	ns := newNodes(pool)
	var at time.Duration

	removeFromModel := func(n *Node) {
		for i, x := range model {
			if x == n {
				model = append(model[:i:i], model[i+1:]...)
				return
			}
		}
		t.Fatalf("node %d not in the model", value(n))
	}

	for op := range ops {
		n := ns[r.IntN(pool)]
		switch k := r.IntN(10); {
		case k < 5: // PushBack (arm or re-arm)
			at += time.Duration(r.IntN(3)) // equal deadlines allowed
			if in[n] {
				removeFromModel(n)
			}
			l.PushBack(n, at)
			model = append(model, n)
			in[n] = true
			if n.At != at {
				t.Fatalf("op %d: At = %v, want %v", op, n.At, at)
			}
		case k < 8: // Remove (a member or not)
			l.Remove(n)
			if in[n] {
				removeFromModel(n)
				delete(in, n)
			}
		default: // expire from the front
			if f := l.Front(); f != nil {
				if len(model) == 0 || model[0] != f {
					t.Fatalf("op %d: Front mismatch", op)
				}
				l.Remove(f)
				model = model[1:]
				delete(in, f)
			} else if len(model) != 0 {
				t.Fatalf("op %d: Front() = nil, model has %d", op, len(model))
			}
		}
		checkList(t, &l, model)
		for _, x := range ns {
			switch {
			case !in[x] && l.Contains(x):
				t.Fatalf("op %d: node %d linked, model says not", op, value(x))
			case !in[x]:
				checkUnlinked(t, &l, x)
			}
		}
	}
}

func BenchmarkListTouch(b *testing.B) {
	const k = 10000
	var l List
	ns := make([]Node, k)
	for i := range ns {
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
	var l List
	ns := make([]Node, k)
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
	var l List
	ns := make([]Node, k)
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
