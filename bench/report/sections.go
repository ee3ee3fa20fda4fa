package main

import (
	"io"
	"os"
	"strings"
)

// RESULTS.md is written by three runners. bench/run.sh's report (-results)
// is the top of the file; the suites' sections follow, each between its
// own begin and end markers, and hand-written notes may sit below any of
// them. Every mode rewrites only its own part:
//
//   - -http and -relay replace what is between their markers (appending
//     the section if the file has none yet) and keep every other byte;
//   - -results rewrites the top and keeps everything from the first
//     suite's begin marker to the end of the file: the suites' sections
//     and the notes below them.
//
// So notes meant to outlive a rerun go below a suite's end marker; notes
// in the top part are run.sh's to overwrite.
var suiteMarkers = [][2]string{
	{httpBegin, httpEnd},
	{relayBegin, relayEnd},
}

// writeSection renders the records in dir and puts them into outPath
// between begin and end, keeping the rest of the file.
func writeSection(dir, outPath, begin, end string, render func(io.Writer, []*Record, map[string]string)) error {
	recs, err := readSome(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	render(&b, recs, machine(dir))
	old, err := os.ReadFile(outPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(outPath, []byte(splice(string(old), begin, end, b.String())), 0o644)
}

// splice replaces the section of doc between begin and end (markers
// included) with section, or appends it if doc has none.
func splice(doc, begin, end, section string) string {
	block := begin + "\n" + section + end + "\n"
	i, j := markedAt(doc, begin, end)
	if i < 0 {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + block
	}
	return doc[:i] + block + strings.TrimPrefix(doc[j+len(end):], "\n")
}

// markedAt returns where begin starts and where the first end after it
// starts in doc; -1, -1 if doc has no such pair.
func markedAt(doc, begin, end string) (int, int) {
	i := strings.Index(doc, begin)
	if i < 0 {
		return -1, -1
	}
	j := strings.Index(doc[i:], end)
	if j < 0 {
		return -1, -1
	}
	return i, i + j
}

// suitesPart returns what -results keeps of doc: from the first suite's
// begin marker to the end of doc; "" if doc has no suite's section.
func suitesPart(doc string) string {
	first := -1
	for _, m := range suiteMarkers {
		if i, _ := markedAt(doc, m[0], m[1]); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first < 0 {
		return ""
	}
	return doc[first:]
}
