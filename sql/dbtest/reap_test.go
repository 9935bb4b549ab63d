package dbtest

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"
)

func TestReapOrphans(t *testing.T) {
	s := get(t)
	if s.cluster == nil {
		t.Skip("the server is TEST_DATABASE_URL's: no cluster of ours to spare")
	}
	long := time.Now().Add(-2 * orphanAge)
	orphan := tempDir(t)
	if err := os.Chtimes(orphan, long, long); err != nil {
		t.Fatal(err)
	}
	young := tempDir(t)
	// Ours is locked, however old it looks.
	if err := os.Chtimes(s.dir, long, long); err != nil {
		t.Fatal(err)
	}

	reapOrphans(t.Context())

	if _, err := os.Stat(orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("orphan: %v, want it removed", err)
	}
	for _, d := range []string{young, s.dir} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v, want it kept", d, err)
		}
	}
	if err := s.pool.Ping(t.Context()); err != nil {
		t.Errorf("shared cluster after reaping: %v", err)
	}
}

func tempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
