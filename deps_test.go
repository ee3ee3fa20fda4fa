package simpleserver_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The core library may import only the standard library and
// golang.org/x/sys. Test-only modules (goleak, the fault proxy) and the
// commands' dependencies do not count: this walks what the library
// packages themselves import.
func TestLibraryDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		".", "./codec", "./worker", "./http1/...", "./protocol/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, "github.com/simple-server/simpleserver") && !strings.HasPrefix(pkg, "golang.org/x/sys/") {
			t.Errorf("the library depends on %s", pkg)
		}
	}
}
