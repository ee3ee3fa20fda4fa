// Package timer keeps an event loop's deadlines: Lists for timeouts that
// every connection shares (idle, read, write), and a Heap for arbitrary
// ones. Times are plain durations on the loop's monotonic clock, passed in
// by the caller, so everything here is deterministic and testable without
// sleeping.
//
// Neither type is safe for concurrent use: each belongs to one loop.
package timer

import (
	"time"
	"unsafe"
)

// List holds nodes in deadline order for a timeout that all its nodes
// share (libevent's "common timeouts"): a node (re)armed later always
// expires later, so arming appends at the tail, and every operation is
// O(1) with no heap and no per-connection Go timer.
//
// Each node belongs to one List, for its whole life (a connection's idle
// node to its loop's idle list): it is in that list or in none. That is
// why a node needs no pointer to its list, and it is embedded in its
// owner, found with Owner, so it needs none to that either: 24 bytes in
// every connection.
type List struct {
	head, tail *Node
	n          int
}

// Node is an entry of a List, embedded in its owner.
type Node struct {
	prev, next *Node
	// At is when the node expires.
	At time.Duration
}

// Owner returns the T that n is embedded in, offset being the node's
// field offset in T (unsafe.Offsetof). n must be that field of a T: the
// pointer arithmetic then stays inside T's allocation, as unsafe.Pointer's
// rules ask.
func Owner[T any](n *Node, offset uintptr) *T {
	return (*T)(unsafe.Add(unsafe.Pointer(n), -int(offset)))
}

// Len is the number of nodes in the list.
func (l *List) Len() int { return l.n }

// Front returns the node that expires first, or nil.
func (l *List) Front() *Node { return l.head }

// Contains reports whether n, one of l's nodes, is in l now.
func (l *List) Contains(n *Node) bool { return n.prev != nil || l.head == n }

// PushBack (re)arms n to expire at at, moving it to the tail. at must not
// be earlier than the At of any node in the list; with one shared timeout
// and a clock that does not go back, it never is.
func (l *List) PushBack(n *Node, at time.Duration) {
	l.Remove(n)
	n.At = at
	n.prev = l.tail
	if l.tail != nil {
		l.tail.next = n
	} else {
		l.head = n
	}
	l.tail = n
	l.n++
}

// Remove unlinks n, one of l's nodes, if it is in l; otherwise it does
// nothing.
func (l *List) Remove(n *Node) {
	if !l.Contains(n) {
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
	n.prev, n.next = nil, nil
	l.n--
}
