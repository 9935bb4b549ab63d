package ride

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Page sizes of the API's lists.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 100
)

// Page asks for one page of a list, newest first.
type Page struct {
	Limit int    // 1 to MaxPageLimit; 0 means DefaultPageLimit
	After Cursor // where the previous page ended; zero for the first
}

// Cursor is where a page ended: its last row's time (for rides) and id.
// Pages continue from it, so rows added meanwhile, being newer, never
// shift a page or repeat a row.
type Cursor struct {
	At time.Time
	ID int64
}

var errCursor = MalformedField("cursor", "cursor must be a next_cursor value from an earlier page, unchanged.")

// String is the cursor as clients carry it: opaque, URL-safe text.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)))
}

// ParseCursor reads a cursor String made; "" is the first page.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errCursor
	}
	at, id, _ := strings.Cut(string(raw), ".")
	micro, errAt := strconv.ParseInt(at, 10, 64)
	n, errID := strconv.ParseInt(id, 10, 64)
	if errAt != nil || errID != nil || n <= 0 {
		return Cursor{}, errCursor
	}
	return Cursor{At: time.UnixMicro(micro), ID: n}, nil
}

// limit is the number of rows to fetch: one more than the page holds,
// to tell whether another page follows.
func (p Page) limit() (int32, error) {
	switch {
	case p.Limit == 0:
		return DefaultPageLimit + 1, nil
	case p.Limit < 1 || p.Limit > MaxPageLimit:
		return 0, InvalidField("limit", "limit must be a whole number from 1 to 100.")
	}
	return int32(p.Limit) + 1, nil
}

// cut trims rows fetched with limit to the page, and returns the cursor of
// the next page, nil when this is the last.
func cut[T any](rows []T, limit int32, cursor func(T) Cursor) ([]T, *Cursor) {
	if len(rows) < int(limit) {
		return rows, nil
	}
	rows = rows[:limit-1]
	next := cursor(rows[len(rows)-1])
	return rows, &next
}
