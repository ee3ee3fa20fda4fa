package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The configuration file is TOML rather than JSON because operators comment
// their settings, and JSON has no comments. It is flat and generic over the
// FlagSet: every flag is a key of the same name (idle-timeout = "60s"), so a
// flag added later needs no configuration code, and every value passes
// through the flag's own Set, so the file is validated exactly as the
// command line is.

// The flags that name the configuration instead of being part of it; they
// are not keys.
const (
	configFlag      = "config"
	printConfigFlag = "print-config"
)

// configFlags holds the values of -config and -print-config.
type configFlags struct {
	file  *string
	print *bool
}

// newConfigFlags defines -config and -print-config on fs. It runs on the
// goroutine that builds fs, before fs.Parse.
func newConfigFlags(fs *flag.FlagSet) configFlags {
	return configFlags{
		file: fs.String(configFlag, "", "read settings from this TOML file: each key is a flag's name, as in idle-timeout = \"60s\"; "+
			"flags on the command line override it"),
		print: fs.Bool(printConfigFlag, false, "print the effective configuration (defaults, then -config, then flags) as TOML, and exit"),
	}
}

// apply runs after fs.Parse, on the same goroutine: it applies the -config
// file to the flags the command line did not set and, with -print-config,
// prints the result to stdout. done reports that the command has finished
// with exit code code: a bad file (the error on stderr, code 2) or a
// printed configuration (code 0).
func (c configFlags) apply(fs *flag.FlagSet, stdout, stderr io.Writer) (code int, done bool) {
	if *c.file != "" {
		data, err := os.ReadFile(*c.file)
		if err != nil {
			fmt.Fprintf(stderr, "simple-server: -config: %v\n", err)
			return 2, true
		}
		if err := loadConfig(fs, *c.file, data); err != nil {
			fmt.Fprintf(stderr, "simple-server: %v\n", err)
			return 2, true
		}
	}
	if *c.print {
		if err := printConfig(stdout, fs); err != nil {
			fmt.Fprintf(stderr, "simple-server: -print-config: %v\n", err)
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// explicitlySet reports whether the flag name was given on the command line
// or in the -config file: loadConfig sets values through fs.Set, which
// records them as fs.Parse does, so fs.Visit sees both. It runs on the
// goroutine that parsed fs.
func explicitlySet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// configError is an error at a line of the configuration file.
func configError(path string, line int, format string, a ...any) error {
	return fmt.Errorf("config %s:%d: "+format, append([]any{path, line}, a...)...)
}

// loadConfig applies the TOML document data, read from path, to fs. Flags
// already set (on the command line) keep their values, but their keys in
// the file are still checked, so a file that is wrong is wrong however it
// is run. The first error, in file order, names the file, the line and
// the key.
func loadConfig(fs *flag.FlagSet, path string, data []byte) error {
	// The parser skips a BOM and counts offsets after it; so do we.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var doc map[string]toml.Primitive
	md, err := toml.Decode(string(data), &doc)
	if pe, ok := errors.AsType[toml.ParseError](err); ok {
		return configError(path, pe.Position.Line, "%s", pe.Message)
	} else if err != nil {
		return fmt.Errorf("config %s: %v", path, err)
	}
	fromCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { fromCommandLine[f.Name] = true })
	for _, name := range topLevelKeys(md) {
		v, line := probe(&md, doc[name], data)
		_, isTable := v.(map[string]any)
		_, isTables := v.([]map[string]any)
		if isTable || isTables || line == 0 {
			if !isTables {
				// A [name] header, or name.x = ..., which has no line of its own.
				line = tableLine(&md, toml.Key{name}, doc[name], data)
			}
			return configError(path, line, "table %q: the file is flat, one flag = value a line, without [tables] or dotted keys", name)
		}
		if name == configFlag || name == printConfigFlag {
			return configError(path, line, "%q is a command-line flag, not a key", name)
		}
		f := fs.Lookup(name)
		if f == nil {
			return configError(path, line, "unknown key %q", name)
		}
		text, err := flagText(f, v)
		if err != nil {
			return configError(path, line, "key %q: %v", name, err)
		}
		if err := setFromFile(fs, f, text, fromCommandLine[name]); err != nil {
			return configError(path, line, "key %q: invalid value %q (want %v): %v", name, text, kindOf(f), err)
		}
	}
	return nil
}

// setFromFile sets f to text, or, when the command line already set f,
// only checks that f accepts text: it sets it and puts the command line's
// value back, which is exact because a flag.Value's String is in its Set
// syntax.
func setFromFile(fs *flag.FlagSet, f *flag.Flag, text string, fromCommandLine bool) error {
	saved := f.Value.String()
	err := fs.Set(f.Name, text)
	if fromCommandLine {
		if rerr := fs.Set(f.Name, saved); rerr != nil {
			return fmt.Errorf("restoring the command line's %q: %v", saved, rerr)
		}
	}
	return err
}

// topLevelKeys returns the document's top-level keys in the order they
// first appear, so errors are reported in file order.
func topLevelKeys(md toml.MetaData) []string {
	var names []string
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		if !seen[k[0]] {
			seen[k[0]] = true
			names = append(names, k[0])
		}
	}
	return names
}

// errProbe makes the decoder report where a value is.
var errProbe = errors.New("probe")

// valueProbe captures a decoded value and fails, because the decoder's
// error for a failing Unmarshaler is a ParseError at the value's position:
// MetaData has no other way to tell where a key is.
type valueProbe struct{ v any }

func (p *valueProbe) UnmarshalTOML(v any) error {
	p.v = v
	return errProbe
}

// probe returns the value of p and the line of its key, or line 0 if the
// parser recorded no position (an implicit table, made by a dotted key).
func probe(md *toml.MetaData, p toml.Primitive, data []byte) (v any, line int) {
	var vp valueProbe
	pe, ok := errors.AsType[toml.ParseError](md.PrimitiveDecode(p, &vp))
	if !ok || pe.Position.Line == 0 {
		return vp.v, 0
	}
	// Position.Line is where a multi-line value ends; a value starts on
	// its key's line, and Start is where it starts.
	start := min(max(pe.Position.Start, 0), len(data))
	return vp.v, 1 + bytes.Count(data[:start], []byte("\n"))
}

// tableLine finds the line of table key: its header's, or, for a table
// made implicitly by dotted keys, the first of those keys'.
func tableLine(md *toml.MetaData, key toml.Key, p toml.Primitive, data []byte) int {
	if _, line := probe(md, p, data); line > 0 {
		return line
	}
	var sub map[string]toml.Primitive
	if md.PrimitiveDecode(p, &sub) != nil {
		return 0
	}
	// Keys lists a.b.c = 1 as a.b.c alone, without a.b.
	for _, k := range md.Keys() {
		if len(k) > len(key) && slices.Equal(k[:len(key)], key) {
			return tableLine(md, k[:len(key)+1], sub[k[len(key)]], data)
		}
	}
	return 0
}

// flagKind is the TOML type a flag's value is written as.
type flagKind int

const (
	kindString flagKind = iota
	kindBool
	kindInt
	kindUint
	kindFloat
	kindDuration
)

func (k flagKind) String() string {
	return [...]string{
		kindString:   "a string",
		kindBool:     "a boolean (true or false)",
		kindInt:      "an integer",
		kindUint:     "a non-negative integer",
		kindFloat:    "a number",
		kindDuration: `a duration string such as "1m30s"`,
	}[k]
}

// kindOf finds the kind of f from the Go type of its value. A flag.Value
// without flag.Getter, or of another type, is written as a string: the
// text its Set parses.
func kindOf(f *flag.Flag) flagKind {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return kindString
	}
	switch g.Get().(type) {
	case bool:
		return kindBool
	case int, int64:
		return kindInt
	case uint, uint64:
		return kindUint
	case float64:
		return kindFloat
	case time.Duration:
		return kindDuration
	}
	return kindString
}

// tomlType names the Go types the decoder produces, for errors.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case []any:
		return "an array"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("a %T", v)
}

// flagText turns the decoded TOML value v into the text f's Set parses,
// if v has the TOML type of f's kind.
func flagText(f *flag.Flag, v any) (string, error) {
	kind := kindOf(f)
	switch v := v.(type) {
	case bool:
		if kind == kindBool {
			return strconv.FormatBool(v), nil
		}
	case int64:
		if kind == kindInt || kind == kindUint || kind == kindFloat {
			return strconv.FormatInt(v, 10), nil
		}
	case float64:
		if kind == kindFloat {
			return strconv.FormatFloat(v, 'g', -1, 64), nil
		}
	case string:
		if kind == kindString || kind == kindDuration {
			return v, nil
		}
	}
	return "", fmt.Errorf("want %v, not %s", kind, tomlType(v))
}

// configValue is f's current value as the TOML encoder should write it.
func configValue(f *flag.Flag) any {
	switch kindOf(f) {
	case kindString, kindDuration:
		return f.Value.String()
	}
	return f.Value.(flag.Getter).Get()
}

// printConfig writes every flag of fs but -config and -print-config as a
// TOML document that loadConfig reads back to the same values, sorted by
// name, each after its usage as a comment. Values equal to the defaults are
// written too, so the output shows every setting.
func printConfig(w io.Writer, fs *flag.FlagSet) error {
	var b bytes.Buffer
	b.WriteString("# simple-server configuration, as -print-config writes it; read it with -config FILE.\n")
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || f.Name == configFlag || f.Name == printConfigFlag {
			return
		}
		b.WriteString("\n# " + strings.ReplaceAll(f.Usage, "\n", "\n# ") + "\n")
		err = toml.NewEncoder(&b).Encode(map[string]any{f.Name: configValue(f)})
	})
	if err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// logFormats are the handlers -log-format chooses among.
var logFormats = map[string]func(io.Writer, *slog.HandlerOptions) slog.Handler{
	"text": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) },
	"json": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) },
}
