package admin_test

import (
	"bytes"
	"errors"
	"net/url"
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
	first, password, err := admin.EnsurePassword(t.Context(), tx, testAdminUser, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(password) < 16 || url.PathEscape(password) != password {
		t.Errorf("password %q: want 16+ URL-safe characters", password)
	}
	if err := bcrypt.CompareHashAndPassword(first, []byte(password)); err != nil {
		t.Errorf("the generated password does not match the hash: %v", err)
	}

	second, again, err := admin.EnsurePassword(t.Context(), tx, testAdminUser, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("a second start made a new password")
	}
	if again != "" {
		t.Errorf("the second start generated %q too", again)
	}
}

func TestAdminPassword_ConcurrentFirstStarts(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	hashes := make([][]byte, 4)
	generated := make([]string, len(hashes))
	var wg sync.WaitGroup
	for i := range hashes {
		wg.Go(func() {
			var err error
			hashes[i], generated[i], err = admin.EnsurePassword(t.Context(), pool, testAdminUser, "")
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, h := range hashes[1:] {
		if !bytes.Equal(h, hashes[0]) {
			t.Fatal("processes starting together disagree on the password")
		}
	}
	var password string
	for _, g := range generated {
		if g != "" {
			if password != "" {
				t.Fatalf("more than one process got the password: %q", generated)
			}
			password = g
		}
	}
	if err := bcrypt.CompareHashAndPassword(hashes[0], []byte(password)); err != nil {
		t.Errorf("the password got (%q) is not the stored one: %v", generated, err)
	}
}

func TestAdminPassword_ConfiguredIsNotStored(t *testing.T) {
	t.Parallel()
	tx := dbtest.Tx(t)
	hash, generated, err := admin.EnsurePassword(t.Context(), tx, testAdminUser, "s3cret-chosen")
	if err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte("s3cret-chosen")); err != nil {
		t.Errorf("hash does not match: %v", err)
	}
	if _, err := db.New(tx).AdminCredentialGet(t.Context(), testAdminUser); !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("a configured password was stored (err %v)", err)
	}
	if generated != "" {
		t.Errorf("generated %q beside a configured password", generated)
	}
}
