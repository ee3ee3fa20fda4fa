package parse

import (
	"strings"
	"testing"
)

type scanResult struct {
	end, status int
}

func scanWhole(raw []byte, lim *Limits) scanResult {
	end, _, err := ScanHead(raw, 0, lim)
	return scanResult{end, status(err)}
}

// scanReads feeds raw to ScanHead the way a server does: the buffer grows
// by each read (reads[i] bytes), and every call resumes from the scanned
// value of the previous one.
func scanReads(t *testing.T, raw []byte, lim *Limits, reads func(have int) int) scanResult {
	t.Helper()
	from := 0
	for have := 0; have < len(raw); {
		have = min(len(raw), have+reads(have))
		buf := raw[:have:have]
		end, scanned, err := ScanHead(buf, from, lim)
		if err != nil || end > 0 {
			return scanResult{end, status(err)}
		}
		if scanned < from || scanned > have {
			t.Fatalf("%q: scanned %d after %d, with %d bytes", raw, scanned, from, have)
		}
		from = scanned
	}
	return scanResult{0, 0}
}

// scanInputs is every test head, whole and in prefixes, plus heads that
// end inside the bounds.
func scanInputs() []string {
	in := seeds()
	in = append(in,
		"GET / HTTP/1.1\r\nHost: a\r",
		"GET / HTTP/1.1\r\nHost: a\r\n\r",
		"GET / HTTP/1.1\r\nHost: a\r\n\rX",
		"\r\n\r\n\n",
		"\r\n\r",
		"\r\n\rX",
		"GET / HTTP/1.1\n\n",
		"GET / HTTP/1.1\n\r\n",
		"GET / HTTP/1.1\r\n\n",
		"GET / HTTP/1.1\r\nA: b\r\r\n\r\n",
		"GET / HTTP/1.1\r\nA: \x00\r\n\r\n",
	)
	return in
}

// TestScanHeadSplit feeds every test request byte by byte and split at
// every offset, and requires the answer it gets when whole.
func TestScanHeadSplit(t *testing.T) {
	limits := []*Limits{nil, {MaxTarget: 8, MaxHead: 40}, {MaxTarget: 1, MaxHead: 24}, {MaxHead: 60}}
	for _, s := range scanInputs() {
		raw := []byte(s)
		for _, lim := range limits {
			want := scanWhole(raw, lim)
			if got := scanReads(t, raw, lim, func(int) int { return 1 }); got != want {
				t.Errorf("%q %+v byte by byte: %+v, whole %+v", raw, lim, got, want)
			}
			for k := 1; k < len(raw); k++ {
				got := scanReads(t, raw, lim, func(have int) int {
					if have == 0 {
						return k
					}
					return len(raw)
				})
				if got != want {
					t.Errorf("%q %+v split at %d: %+v, whole %+v", raw, lim, k, got, want)
				}
			}
		}
	}
}

func TestScanHeadBounds(t *testing.T) {
	lim := &Limits{MaxTarget: 10, MaxHead: 100}
	line := requestLineMax(10) // the longest request line, line end included
	tests := []struct {
		name string
		raw  string
		want scanResult
	}{
		{"request line at the bound", "GET /" + strings.Repeat("a", line-len("GET / HTTP/1.1\r\n")) + " HTTP/1.1\r\n\r\n", scanResult{line + 2, 0}},
		{"request line one over", "GET /" + strings.Repeat("a", line-len("GET / HTTP/1.1\r\n")+1) + " HTTP/1.1\r\n\r\n", scanResult{0, 414}},
		{"request line at the bound, no end yet", strings.Repeat("a", line-1), scanResult{0, 0}},
		{"request line reaching the bound", strings.Repeat("a", line), scanResult{0, 414}},
		{"request line reaching the bound with a CR", strings.Repeat("a", line-1) + "\r", scanResult{0, 414}},
		{"after leading empty lines", "\r\n\n" + strings.Repeat("a", line), scanResult{0, 414}},
		{"head at MaxHead", "GET / HTTP/1.1\r\nA: " + strings.Repeat("x", 100-len("GET / HTTP/1.1\r\nA: \r\n\r\n")) + "\r\n\r\n", scanResult{100, 0}},
		{"head one over MaxHead", "GET / HTTP/1.1\r\nA: " + strings.Repeat("x", 101-len("GET / HTTP/1.1\r\nA: \r\n\r\n")) + "\r\n\r\n", scanResult{0, 431}},
		{"MaxHead bytes, no end", "GET / HTTP/1.1\r\nA: " + strings.Repeat("x", 100), scanResult{0, 431}},
		{"empty lines up to MaxHead", strings.Repeat("\r\n", 50), scanResult{0, 431}},
		{"NUL before the bound beats 414", "a\x00" + strings.Repeat("a", line), scanResult{0, 400}},
		{"bare CR", "GET / HTTP/1.1\r\nA: b\rc", scanResult{0, 400}},
		{"bare CR in an empty line", "GET / HTTP/1.1\r\nA: b\r\n\rc", scanResult{0, 400}},
		{"pending CR", "GET / HTTP/1.1\r\nA: b\r", scanResult{0, 0}},
	}
	for _, tt := range tests {
		if got := scanWhole([]byte(tt.raw), lim); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestScanHeadResume checks the resume points: after the request line,
// ScanHead never goes back, so a call costs only the new bytes.
func TestScanHeadResume(t *testing.T) {
	raw := []byte("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + strings.Repeat("v", 1000) + "\r\n\r\n")
	reqLine := len("GET / HTTP/1.1\r\n")
	from := 0
	for have := 1; have <= len(raw); have++ {
		end, scanned, err := ScanHead(raw[:have], from, nil)
		if err != nil {
			t.Fatal(err)
		}
		if end > 0 {
			if have != len(raw) || end != len(raw) {
				t.Fatalf("end %d with %d bytes", end, have)
			}
			return
		}
		switch {
		case have < reqLine && scanned != 0:
			t.Fatalf("%d bytes: scanned %d inside the request line", have, scanned)
		case have >= reqLine && scanned < have-1:
			t.Fatalf("%d bytes: scanned %d, more than a CR behind", have, scanned)
		}
		from = scanned
	}
	t.Fatal("no end")
}
