// Package interop tests simpleserver against third-party code that users
// run on top of it or next to it: golang.org/x/net/nettest's conformance
// suite on a hijacked HTTP connection, a WebSocket library built on
// net/http, and network faults injected by toxiproxy's Go library
// (faults_test.go). It is a module of its own, for tests with heavy
// dependencies, so that these test-only dependencies never reach the
// library's go.mod (TestGoModRequires in the root package guards it).
package interop
