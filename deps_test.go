package simpleserver_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// The core library may import only the standard library and
// golang.org/x/sys. Test-only modules (goleak) and the commands'
// dependencies do not count: this walks what the library packages
// themselves import. TestGoModRequires guards the module graph.
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

// go.mod requires golang.org/x/sys and go.uber.org/goleak and nothing
// else, directly or indirectly: every module required here lands in the
// module graph of whoever adds the library. Tests with heavy
// dependencies (toxiproxy, WebSocket, x/net) live in interop/, a module
// of its own.
func TestGoModRequires(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	var stderr bytes.Buffer
	cmd := exec.Command("go", "mod", "edit", "-json", "go.mod")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v\n%s", err, stderr.Bytes())
	}
	var mod struct {
		Require []struct {
			Path     string
			Version  string
			Indirect bool
		}
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatalf("go mod edit -json: %v\n%s", err, out)
	}
	allowed := map[string]bool{"golang.org/x/sys": true, "go.uber.org/goleak": true}
	for _, r := range mod.Require {
		if !allowed[r.Path] {
			how := "directly"
			if r.Indirect {
				how = "indirectly"
			}
			t.Errorf("go.mod requires %s %s (%s); the library's go.mod may require only golang.org/x/sys and go.uber.org/goleak: put tests with heavy dependencies into the interop/ module", r.Path, r.Version, how)
		}
	}
}
