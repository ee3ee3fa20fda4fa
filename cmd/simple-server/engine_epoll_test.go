//go:build linux && !simpleserver_portable

package main

// engineTags builds the binaries for the engine of this test binary;
// wantEngine is what their start log must name.
const engineTags, wantEngine = "", "epoll"
