// Package interop tests simpleserver against third-party code that users
// run on top of it: golang.org/x/net/nettest's conformance suite on a
// hijacked HTTP connection, and a WebSocket library built on net/http.
// It is a module of its own, so that these test-only dependencies never
// reach the library's go.mod.
package interop
