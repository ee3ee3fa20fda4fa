module github.com/simple-server/simpleserver/interop

go 1.26.0

replace github.com/simple-server/simpleserver => ../

require (
	github.com/coder/websocket v1.8.15
	github.com/simple-server/simpleserver v0.0.0-00010101000000-000000000000
	golang.org/x/net v0.62.0
)

require golang.org/x/sys v0.50.0 // indirect
