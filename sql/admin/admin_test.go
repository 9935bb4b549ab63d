package admin_test

import (
	"bytes"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"birdcar/sql/admin"
	"birdcar/sql/db"
	"birdcar/sql/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const testAdminUser = "admin"

func TestAdminPassword_GeneratedOnce(t *testing.T) {
	t.Parallel()
	tx := dbtest.Tx(t)
	var buf bytes.Buffer
	first, err := admin.EnsurePassword(t.Context(), tx, testAdminUser, "", &buf)
	if err != nil {
		t.Fatal(err)
	}
	password := printedPassword(t, buf.String())
	if len(password) < 16 || url.PathEscape(password) != password {
		t.Errorf("password %q: want 16+ URL-safe characters", password)
	}
	if err := bcrypt.CompareHashAndPassword(first, []byte(password)); err != nil {
		t.Errorf("the logged password does not match the hash: %v", err)
	}

	buf.Reset()
	second, err := admin.EnsurePassword(t.Context(), tx, testAdminUser, "", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("a second start made a new password")
	}
	if buf.Len() != 0 {
		t.Errorf("the second start printed: %s", buf.String())
	}
}

func TestAdminPassword_ConcurrentFirstStarts(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	var buf syncBuffer
	hashes := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range hashes {
		wg.Go(func() {
			h, err := admin.EnsurePassword(t.Context(), pool, testAdminUser, "", &buf)
			if err != nil {
				t.Error(err)
			}
			hashes[i] = h
		})
	}
	wg.Wait()
	for _, h := range hashes[1:] {
		if !bytes.Equal(h, hashes[0]) {
			t.Fatal("processes starting together disagree on the password")
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("printed %d lines, want 1: %s", n, buf.String())
	}
	if err := bcrypt.CompareHashAndPassword(hashes[0], []byte(printedPassword(t, buf.String()))); err != nil {
		t.Errorf("the printed password is not the stored one: %v", err)
	}
}

// syncBuffer is a bytes.Buffer several goroutines may log to.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func TestAdminPassword_ConfiguredIsNotStored(t *testing.T) {
	t.Parallel()
	tx := dbtest.Tx(t)
	var buf bytes.Buffer
	hash, err := admin.EnsurePassword(t.Context(), tx, testAdminUser, "s3cret-chosen", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte("s3cret-chosen")); err != nil {
		t.Errorf("hash does not match: %v", err)
	}
	if _, err := db.New(tx).AdminCredentialGet(t.Context(), testAdminUser); !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("a configured password was stored (err %v)", err)
	}
	if buf.Len() != 0 {
		t.Errorf("logged: %s", buf.String())
	}
}

var printedRE = regexp.MustCompile(`^Console password for "admin": (\S+) \(shown only now; set ADMIN_PASSWORD to choose one\)\n$`)

// printedPassword reads the password EnsurePassword printed.
func printedPassword(t *testing.T, out string) string {
	t.Helper()
	m := printedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("printed %q, want the one-time password line", out)
	}
	return m[1]
}
