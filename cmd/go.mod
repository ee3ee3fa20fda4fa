module github.com/simple-server/simpleserver/cmd

go 1.26.0

replace github.com/simple-server/simpleserver => ../

require (
	github.com/simple-server/simpleserver v0.0.0-00010101000000-000000000000
	golang.org/x/sys v0.50.0
)
