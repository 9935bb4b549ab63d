package ride

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxText is the longest name or address, in characters.
const maxText = 200

// plainText reports whether v is valid UTF-8 without control characters
// (NUL among them, which Postgres refuses in text): what a name or an
// address may hold.
func plainText(v string) bool {
	return utf8.ValidString(v) && !strings.ContainsFunc(v, unicode.IsControl)
}

// checkText trims a name or an address and checks it, naming the field
// and its label in the sentence.
func checkText(field, label, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", InvalidField(field, label+" is required.")
	case utf8.RuneCountInString(v) > maxText:
		return "", InvalidField(field, label+" must be at most 200 characters.")
	case !plainText(v):
		return "", InvalidField(field, label+" must be plain text, without control characters.")
	}
	return v, nil
}

// Sanitize makes a value from a request safe to store or search for:
// valid UTF-8, no NULs, at most 100 bytes, and a copy of its own. The
// server's request values point into buffers it reuses, and a call is
// written after its request has ended (CallLog): a value kept without the
// copy changes under the writer.
func Sanitize(v string) string {
	v = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
	if len(v) > 100 {
		v = strings.ToValidUTF8(v[:100], "")
	}
	return strings.Clone(v)
}

// clip shortens text to at most n characters, marking the cut.
func clip(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	return string([]rune(text)[:n-1]) + "…"
}
