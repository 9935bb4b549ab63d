package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

// brotliBomb is a small brotli body that inflates to n zero bytes: a
// kilobyte or so for gigabytes, far under every body limit.
func brotliBomb(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	// Quality 4 finds the long zero runs as well as 11 does, in a second a
	// gigabyte rather than minutes.
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 4, LGWin: 24})
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zero))
		if _, err := w.Write(zero[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLimitBody_DecompressionBomb sends a brotli body that inflates to
// 2 GiB to the SMS webhook and the API, under every way of naming its
// encoding: each is refused at once, and the heap does not grow.
//
// Not parallel: the heap is the process's, and the parallel tests wait
// until the sequential ones are done.
func TestLimitBody_DecompressionBomb(t *testing.T) {
	const inflated = 2 << 30
	bomb := brotliBomb(t, inflated)
	if len(bomb) > 8<<10 {
		t.Fatalf("the bomb is %d bytes: it must pass the body limits to test the encoding check", len(bomb))
	}
	b := setup(t, nil)
	encodings := []struct {
		name  string
		lines []string
	}{
		// Fiber's c.Get reads the first line, its c.Body() decodes by the last.
		{"identity, then br on a second line", []string{"identity", "br"}},
		{"br", []string{"br"}},
		{"identity, br on one line", []string{"identity, br"}},
		{"BR", []string{"BR"}},
		{"br after empty items", []string{" , ,\tbr "}},
		{"br, then identity on a second line", []string{"br", "identity"}},
	}
	for _, target := range []string{"/webhook", "/api/v1/rides"} {
		for _, enc := range encodings {
			req := httptest.NewRequest("POST", target, bytes.NewReader(bomb))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testToken)
			for _, v := range enc.lines {
				req.Header.Add("Content-Encoding", v)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			resp, err := b.srv.App().Test(req, int((10 * time.Second).Milliseconds()))
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("%s, %s: %v (after %v)", target, enc.name, err, took)
			}
			resp.Body.Close()
			// TotalAlloc counts every byte allocated meanwhile, freed or not:
			// an inflated body shows there even if a GC collected it.
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%s, %s: %d in %v; %.1f MB allocated, heap %+.1f MB", target, enc.name, resp.StatusCode, took,
				float64(allocated)/1e6, float64(grown)/1e6)
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("%s, %s: status %d, want 415", target, enc.name, resp.StatusCode)
			}
			if took > 2*time.Second {
				t.Errorf("%s, %s: answered in %v, want at once", target, enc.name, took)
			}
			if allocated > 100e6 || grown > 100e6 {
				t.Errorf("%s, %s: %d bytes allocated, heap grew %d; want under 100 MB", target, enc.name, allocated, grown)
			}
		}
	}
}

// TestLimitBody_ContentEncodings admits only bodies no reader would decode.
func TestLimitBody_ContentEncodings(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, c := range []struct {
		lines   []string
		refused bool
	}{
		{nil, false},
		{[]string{"identity"}, false},
		{[]string{"IDENTITY"}, false},
		{[]string{"identity", "identity"}, false},
		{[]string{"identity, ,identity"}, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"deflate"}, true},
		{[]string{"identity", "gzip"}, true},
		{[]string{"identity", "", "deflate"}, true},
		{[]string{"identity,gzip"}, true},
		{[]string{"compress"}, true},
		{[]string{"x-unknown"}, true},
	} {
		// A body the API refuses for its content, not its encoding.
		req := httptest.NewRequest("POST", "/api/v1/rides", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		for _, v := range c.lines {
			req.Header.Add("Content-Encoding", v)
		}
		r := b.do(t, req)
		if refused := r.StatusCode == http.StatusUnsupportedMediaType; refused != c.refused {
			t.Errorf("Content-Encoding %q: status %d, want refused %v", c.lines, r.StatusCode, c.refused)
		}
	}
}

// TestNoDecodingBodyReads keeps Fiber's c.Body(), which inflates by the
// request's Content-Encoding without bound, out of this package: handlers
// read c.Request().Body(), the bytes as received.
func TestNoDecodingBodyReads(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`\bc\.(Body|BodyParser)\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if call.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("%s:%d reads the decoded body: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
