package ride_test

import (
	"testing"
	"unsafe"

	"birdcar/sql/ride"
)

// TestSanitize_Copies: a value kept past its request (the call log writes
// calls later) must not share the request's buffer, which the server
// reuses for the next request.
func TestSanitize_Copies(t *testing.T) {
	t.Parallel()
	buf := []byte("31611111111")
	in := unsafe.String(&buf[0], len(buf)) // as fasthttp hands out query values
	got := ride.Sanitize(in)
	copy(buf, "99999999999") // the next request
	if got != "31611111111" {
		t.Errorf("Sanitize kept the request's buffer: now %q", got)
	}
}
