package localpg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestStart_RefusesSymlink(t *testing.T) {
	t.Parallel()
	target := dataDir(t)
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := dataDir(t)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	before := owner(t, target)

	_, err := Start(t.Context(), Options{DataDir: link, Fast: true})
	if !errors.Is(err, ErrDataDir) || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Start on a symlink: %v, want ErrDataDir naming %s", err, link)
	}
	if got := owner(t, target); got != before {
		t.Errorf("the link's target changed owner: uid %d, was %d", got, before)
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("Start wrote into the link's target: %v", entries)
	}
}

func TestStart_RefusesForeignDirectory(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".bashrc"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before := owner(t, dir)

	_, err := Start(t.Context(), Options{DataDir: dir, Fast: true})
	if !errors.Is(err, ErrDataDir) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Start on a foreign directory: %v, want ErrDataDir naming %s", err, dir)
	}
	if got := owner(t, dir); got != before {
		t.Errorf("the directory changed owner: uid %d, was %d", got, before)
	}
}

// As root, BirdCar gives the postgres user the directory it creates, and
// no other.
func TestStart_ChownsOnlyWhatItCreates(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another user")
	}
	t.Parallel()
	cred, err := serverCredential()
	if err != nil {
		t.Fatal(err)
	}

	created := dataDir(t)
	start(t, created)
	if got := owner(t, created); got != cred.Uid {
		t.Errorf("created data directory: uid %d, want the server user's %d", got, cred.Uid)
	}

	existing := dataDir(t)
	if err := os.Mkdir(existing, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = Start(t.Context(), Options{DataDir: existing, Fast: true})
	if !errors.Is(err, ErrDataDir) || !strings.Contains(err.Error(), existing) {
		t.Fatalf("Start on root's empty directory: %v, want ErrDataDir naming %s", err, existing)
	}
	if got := owner(t, existing); got != 0 {
		t.Errorf("an existing directory was given to uid %d", got)
	}
}

func TestWriteSecret(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	for _, secret := range []string{"first\n", "second\n"} {
		path, err := WriteSecret(dir, "console-password", []byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != secret {
			t.Fatalf("%s holds %q (%v), want %q", path, got, err, secret)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o600 || owner(t, path) != uint32(os.Geteuid()) {
			t.Errorf("%s: mode %v, uid %d; want -rw------- and ours", path, fi.Mode(), owner(t, path))
		}
	}
	// The directory it made is a BirdCar data directory: Start takes it.
	mustExec(t, start(t, dir), "SELECT 1")
}

func owner(t *testing.T, path string) uint32 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}
