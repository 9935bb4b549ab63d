// Package obs is what operators observe of a process: its logs (JSON
// lines with request ids, phone numbers masked, secrets redacted), its
// request ids and its Prometheus registry.
package obs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
)

// redacted replaces the value of an attribute whose key names a secret.
const redacted = "[redacted]"

// requestIDAttr is the key under which each request's log lines carry its id.
const requestIDAttr = "request_id"

// secretKeyWords mark attribute keys whose values never reach a log.
var secretKeyWords = []string{"password", "token", "secret", "key", "authorization", "cookie"}

// phonePattern finds what may be a phone number: a run of digits and
// spaces, maybe after a "+"; maskPhones masks those with 8 or more digits.
// The word boundaries spare digit runs inside ids such as MessageBird's hex
// message ids.
var phonePattern = regexp.MustCompile(`\+?\b\d[\d ]{6,}\d\b`)

// minPhoneDigits is the fewest digits that make a phone number.
const minPhoneDigits = 8

// NewLogHandler returns BirdCar's log handler, writing to w as "json" or
// "text"; "" (or any other value) means text on a terminal and JSON
// otherwise, where a log collector is more likely to read it than a person.
//
// Every record logged with a request's context carries its request_id. At
// Info and above, phone numbers in the message and in string and error
// values are masked down to their last three digits, the length kept;
// Debug records keep them, for tracing a route. Values of keys naming
// secrets (password, token, secret, key, authorization, cookie, in any
// case, or inside a group so named) are always replaced with "[redacted]".
func NewLogHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	if format != "json" && format != "text" {
		format = "json"
		if IsTerminal(w) {
			format = "text"
		}
	}
	// Each standard handler locks only its own writes: the two views
	// share one lock, so concurrent lines never interleave.
	w = &lockedWriter{w: w}
	newHandler := func(mask bool) slog.Handler {
		opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			return scrub(groups, a, mask)
		}}
		if format == "json" {
			return slog.NewJSONHandler(w, opts)
		}
		return slog.NewTextHandler(w, opts)
	}
	return &logHandler{masked: newHandler(true), plain: newHandler(false)}
}

// logHandler holds two views of one output: which one scrubs a record's
// phone numbers depends on its level, and attributes added with WithAttrs
// must be scrubbed both ways before the record's level is known.
type logHandler struct {
	masked slog.Handler // Info and above
	plain  slog.Handler // Debug
}

func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.plain.Enabled(ctx, level)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String(requestIDAttr, id))
	}
	if r.Level < slog.LevelInfo {
		return h.plain.Handle(ctx, r)
	}
	return h.masked.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{masked: h.masked.WithAttrs(attrs), plain: h.plain.WithAttrs(attrs)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{masked: h.masked.WithGroup(name), plain: h.plain.WithGroup(name)}
}

// scrub is the handlers' ReplaceAttr: the standard handlers call it for
// every attribute, nested ones and the message included, with its value
// resolved.
func scrub(groups []string, a slog.Attr, mask bool) slog.Attr {
	if isSecretKey(a.Key) {
		return slog.String(a.Key, redacted)
	}
	for _, g := range groups {
		if isSecretKey(g) {
			return slog.String(a.Key, redacted)
		}
	}
	// The request id must match the X-Request-Id header as sent, even
	// when a client's id is all digits.
	if !mask || a.Key == requestIDAttr {
		return a
	}
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(maskPhones(a.Value.String()))
	case slog.KindAny:
		// Errors often quote the number they failed on; only an error that
		// does is turned into a string.
		if err, ok := a.Value.Any().(error); ok {
			if s := err.Error(); countDigits(s) >= minPhoneDigits {
				if masked := maskPhones(s); masked != s {
					a.Value = slog.StringValue(masked)
				}
			}
		}
	}
	return a
}

func isSecretKey(key string) bool {
	key = strings.ToLower(key)
	for _, w := range secretKeyWords {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}

// maskPhones replaces every character of each phone number in s but its
// last three digits with "*": "+31612345678" becomes "*********678". The
// length stays, so columns line up and a number still reads as one.
func maskPhones(s string) string {
	// Most values have too few digits to hold a number: skip the regexp.
	if countDigits(s) < minPhoneDigits {
		return s
	}
	return phonePattern.ReplaceAllStringFunc(s, func(m string) string {
		if countDigits(m) < minPhoneDigits {
			return m
		}
		b := []byte(m)
		kept := 0
		for i := len(b) - 1; i >= 0; i-- {
			if kept < 3 && b[i] >= '0' && b[i] <= '9' {
				kept++
				continue
			}
			if kept == 3 || b[i] != ' ' {
				b[i] = '*'
			}
		}
		return string(b)
	})
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			n++
		}
	}
	return n
}

// lockedWriter serialises the writes of the handlers that share it.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// IsTerminal reports whether w is a character device, as a terminal is.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
