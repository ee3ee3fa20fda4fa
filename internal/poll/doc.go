// Package poll is an event loop's readiness source: a Poller reports which
// of the loop's sockets are ready, and can be woken from other goroutines.
//
// On Linux it is one epoll instance and the eventfd that wakes it
// (epoll.go). Elsewhere, and on Linux with the build tag
// simpleserver_portable, it collects the readiness that the emulated
// sockets of package sock post to it (portable.go); the bits and their
// meaning (edge- or level-triggered, EPOLLRDHUP for a peer's EOF) are the
// same, so the loops cannot tell the two apart.
//
// A Poller belongs to one event loop goroutine: Add, Mod, Del and Wait are
// called only from it. Wake is the one method other goroutines call.
package poll
