package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testFlags is a FlagSet with a flag of every kind a configuration file
// handles, the TextVar one standing for values without a kind of their
// own.
func testFlags(t *testing.T, args ...string) (*flag.FlagSet, configFlags) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("on", false, "a bool")
	fs.Int("n", 1, "an int")
	fs.Int64("big", 2, "an int64")
	fs.Uint("u", 3, "a uint")
	fs.String("name", "x", "a string\nover two lines")
	fs.Duration("wait", time.Second, "a duration")
	fs.Float64("ratio", 0.5, "a float")
	var ip netip.Addr
	fs.TextVar(&ip, "ip", netip.MustParseAddr("127.0.0.1"), "a TextVar")
	cfg := newConfigFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, cfg
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "simple-server.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// values returns every flag's value as its String.
func values(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

func checkValues(t *testing.T, fs *flag.FlagSet, want map[string]string) {
	t.Helper()
	got := values(fs)
	for name, w := range want {
		if got[name] != w {
			t.Errorf("-%s = %q, want %q", name, got[name], w)
		}
	}
}

func TestConfigSetsEveryKind(t *testing.T) {
	fs, _ := testFlags(t)
	const file = `# every kind
on = true
n = -7
big = 9000000000
u = 42
name = "a \"quoted\" name"
wait = "1m30s"
ratio = 2
ip = "::1"
`
	if err := loadConfig(fs, "f.toml", []byte(file)); err != nil {
		t.Fatal(err)
	}
	checkValues(t, fs, map[string]string{
		"on": "true", "n": "-7", "big": "9000000000", "u": "42", "name": `a "quoted" name`,
		"wait": "1m30s", "ratio": "2", "ip": "::1",
	})
	fs, _ = testFlags(t)
	if err := loadConfig(fs, "f.toml", []byte("ratio = 0.25\n")); err != nil {
		t.Fatal(err)
	}
	checkValues(t, fs, map[string]string{"ratio": "0.25"})
}

func TestConfigCommandLineWins(t *testing.T) {
	path := writeConfig(t, "n = 7\nwait = \"2m\"\nname = \"file\"\n")
	fs, cfg := testFlags(t, "-n", "5", "-config", path, "-name", "flag")
	var stdout, stderr bytes.Buffer
	if code, done := cfg.apply(fs, &stdout, &stderr); done {
		t.Fatalf("apply finished the command: exit %d, stderr %q", code, stderr.String())
	}
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Fatalf("apply wrote stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	checkValues(t, fs, map[string]string{"n": "5", "name": "flag", "wait": "2m0s", "big": "2", "on": "false"})
	for name, want := range map[string]bool{"n": true, "name": true, "wait": true, "config": true, "big": false, "on": false} {
		if got := explicitlySet(fs, name); got != want {
			t.Errorf("explicitlySet(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		args       []string // on the command line before the file is applied
		want       string
	}{
		{"unknown key", "# comment\n\nn = 1\nbogus = 1\n", nil, `config f.toml:4: unknown key "bogus"`},
		{"quoted unknown key", "\"no such\" = 1\n", nil, `config f.toml:1: unknown key "no such"`},
		{"the first error in the file", "zz = 1\naa = 1\n", nil, `config f.toml:1: unknown key "zz"`},
		{"string for int", "\nn = \"5\"\n", nil, `config f.toml:2: key "n": want an integer, not a string`},
		{"float for int", "n = 1.5\n", nil, `config f.toml:1: key "n": want an integer, not a float`},
		{"string for bool", "on = \"true\"\n", nil, `config f.toml:1: key "on": want a boolean (true or false), not a string`},
		{"int for duration", "wait = 5\n", nil, `config f.toml:1: key "wait": want a duration string such as "1m30s", not an integer`},
		{"int for string", "name = 5\n", nil, `config f.toml:1: key "name": want a string, not an integer`},
		{"array", "name = [\"a\"]\n", nil, `config f.toml:1: key "name": want a string, not an array`},
		{"date", "name = 2024-01-02\n", nil, `config f.toml:1: key "name": want a string, not a date-time`},
		{"bad duration", "n = 1\nwait = \"banana\"\n", nil,
			`config f.toml:2: key "wait": invalid value "banana" (want a duration string such as "1m30s"): parse error`},
		{"negative uint", "u = -1\n", nil, `config f.toml:1: key "u": invalid value "-1" (want a non-negative integer): parse error`},
		{"bad TextVar", "ip = \"nowhere\"\n", nil,
			`config f.toml:1: key "ip": invalid value "nowhere" (want a string): ParseAddr("nowhere"): unable to parse IP`},
		{"bad value of a flag the command line set", "wait = \"banana\"\n", []string{"-wait", "3s"},
			`config f.toml:1: key "wait": invalid value "banana" (want a duration string such as "1m30s"): parse error`},
		{"multi-line string, reported at its key", "n = 1\nname = \"\"\"\nmulti\nline\"\"\"\nbogus = 2\n", nil,
			`config f.toml:5: unknown key "bogus"`},
		{"table", "n = 1\n\n[server]\nn = 2\n", nil,
			`config f.toml:3: table "server": the file is flat, one flag = value a line, without [tables] or dotted keys`},
		{"array of tables", "[[server]]\nn = 2\n", nil,
			`config f.toml:1: table "server": the file is flat, one flag = value a line, without [tables] or dotted keys`},
		{"dotted key", "n = 1\nserver.n = 2\n", nil,
			`config f.toml:2: table "server": the file is flat, one flag = value a line, without [tables] or dotted keys`},
		{"deeper dotted key", "n = 1\n\na.b.c = 2\n", nil,
			`config f.toml:3: table "a": the file is flat, one flag = value a line, without [tables] or dotted keys`},
		{"inline table for a flag", "n = { x = 1 }\n", nil,
			`config f.toml:1: table "n": the file is flat, one flag = value a line, without [tables] or dotted keys`},
		{"config", "config = \"other.toml\"\n", nil, `config f.toml:1: "config" is a command-line flag, not a key`},
		{"print-config", "\nprint-config = true\n", nil, `config f.toml:2: "print-config" is a command-line flag, not a key`},
		{"syntax", "n = 1\nwait = = 2\n", nil, `config f.toml:2: expected value but found '=' instead`},
		{"duplicate", "n = 1\nn = 2\n", nil, `config f.toml:2: Key 'n' has already been defined.`},
		{"BOM", "\xef\xbb\xbfn = 1\nbogus = 2\n", nil, `config f.toml:2: unknown key "bogus"`},
		{"CRLF", "n = 1\r\n\r\nbogus = 2\r\n", nil, `config f.toml:3: unknown key "bogus"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, _ := testFlags(t, tc.args...)
			before := values(fs)
			err := loadConfig(fs, "f.toml", []byte(tc.file))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
			if tc.args != nil {
				checkValues(t, fs, before)
			}
		})
	}
}

func TestConfigApplyErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	bad := writeConfig(t, "n = 1\nbogus = 2\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-config", missing}, "simple-server: -config: open " + missing + ": no such file or directory\n"},
		{[]string{"-config", bad, "-print-config"}, "simple-server: config " + bad + `:2: unknown key "bogus"` + "\n"},
	} {
		fs, cfg := testFlags(t, tc.args...)
		var stdout, stderr bytes.Buffer
		code, done := cfg.apply(fs, &stdout, &stderr)
		if !done || code != 2 || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("%q: exit %d (done %v), stdout %q, stderr %q, want exit 2 and %q", tc.args, code, done, stdout.String(), stderr.String(), tc.want)
		}
	}
}

const wantPrinted = `# simple-server configuration, as -print-config writes it; read it with -config FILE.

# an int64
big = 2

# a TextVar
ip = "127.0.0.1"

# an int
n = 1

# a string
# over two lines
name = "x"

# a bool
on = false

# a float
ratio = 0.5

# a uint
u = 3

# a duration
wait = "1s"
`

func TestPrintConfig(t *testing.T) {
	fs, cfg := testFlags(t, "-print-config")
	var stdout, stderr bytes.Buffer
	code, done := cfg.apply(fs, &stdout, &stderr)
	if !done || code != 0 || stderr.Len() != 0 {
		t.Fatalf("exit %d (done %v), stderr %q", code, done, stderr.String())
	}
	if stdout.String() != wantPrinted {
		t.Fatalf("printed\n%s\nwant\n%s", stdout.String(), wantPrinted)
	}
}

// The printed configuration read back prints the same bytes, for values the
// TOML encoder must quote or escape too.
func TestPrintConfigRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-on", "-n", "-3", "-big", "-9000000000", "-u", "0", "-wait", "1h2m3.5s", "-ratio", "1e-9", "-ip", "::1"},
		{"-name", "tab\there \"quotes\" \\ back\nnew line é \x01 ''' \"\"\""},
		{"-name", "", "-ratio", "3"},
	} {
		fs, _ := testFlags(t, args...)
		var first bytes.Buffer
		if err := printConfig(&first, fs); err != nil {
			t.Fatal(err)
		}
		fs2, _ := testFlags(t)
		if err := loadConfig(fs2, "printed.toml", first.Bytes()); err != nil {
			t.Fatalf("%q: reading back: %v\n%s", args, err, first.String())
		}
		checkValues(t, fs2, values(fs))
		var second bytes.Buffer
		if err := printConfig(&second, fs2); err != nil {
			t.Fatal(err)
		}
		if first.String() != second.String() {
			t.Fatalf("%q: printed\n%s\nthen\n%s", args, first.String(), second.String())
		}
	}
}

func TestLogFormats(t *testing.T) {
	if len(logFormats) != 2 {
		t.Fatalf("log formats %v, want text and json", logFormats)
	}
	var text, js bytes.Buffer
	slog.New(logFormats["text"](&text, nil)).Info("simple-server listening", "addr", "127.0.0.1:1")
	slog.New(logFormats["json"](&js, nil)).Info("simple-server listening", "addr", "127.0.0.1:1")
	if !strings.HasSuffix(text.String(), ` level=INFO msg="simple-server listening" addr=127.0.0.1:1`+"\n") {
		t.Errorf("text: %q", text.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil || rec["msg"] != "simple-server listening" ||
		rec["addr"] != "127.0.0.1:1" || rec["level"] != "INFO" || len(rec) != 4 {
		t.Errorf("json: %q: %v", js.String(), err)
	}
}
