// Package timer keeps an event loop's deadlines: Lists for timeouts that
// every connection shares (idle, read, write), and a Heap for arbitrary
// ones. Times are plain durations on the loop's monotonic clock, passed in
// by the caller, so everything here is deterministic and testable without
// sleeping.
//
// Neither type is safe for concurrent use: each belongs to one loop.
package timer

import "time"

// List holds nodes in deadline order for a timeout that all its nodes
// share (libevent's "common timeouts"): a node (re)armed later always
// expires later, so arming appends at the tail, and every operation is
// O(1) with no heap and no per-connection Go timer.
type List[T any] struct {
	head, tail *Node[T]
	n          int
}

// Node is an entry of a List, embedded in its owner.
type Node[T any] struct {
	prev, next *Node[T]
	list       *List[T]
	// At is when the node expires.
	At time.Duration
	// Value is the node's owner.
	Value T
}

// Linked reports whether the node is in a list.
func (n *Node[T]) Linked() bool { return n.list != nil }

// Len is the number of nodes in the list.
func (l *List[T]) Len() int { return l.n }

// Front returns the node that expires first, or nil.
func (l *List[T]) Front() *Node[T] { return l.head }

// PushBack (re)arms n to expire at at, moving it to the tail. at must not
// be earlier than the At of any node in the list; with one shared timeout
// and a clock that does not go back, it never is.
func (l *List[T]) PushBack(n *Node[T], at time.Duration) {
	if n.list != nil {
		n.list.Remove(n)
	}
	n.At = at
	n.list = l
	n.prev = l.tail
	if l.tail != nil {
		l.tail.next = n
	} else {
		l.head = n
	}
	l.tail = n
	l.n++
}

// Remove unlinks n if it is in l; otherwise it does nothing.
func (l *List[T]) Remove(n *Node[T]) {
	if n.list != l {
		return
	}
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next, n.list = nil, nil, nil
	l.n--
}
