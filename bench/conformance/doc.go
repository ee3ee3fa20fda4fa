// Package conformance holds a test, not code: it builds every benchmark
// server (and the C reference, when gcc is present) and checks that each
// speaks hello and echo exactly as simple-server does, so the benchmark
// compares servers doing the same work. servers/simpleserver is built
// twice, as run.sh builds it: simpleserver, and portable with -tags
// simpleserver_portable; each must name its engine (epoll, portable) in
// its start log.
//
//	cd bench && go test ./conformance
package conformance
