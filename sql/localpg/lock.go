package localpg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrInUse means another live process (or another Cluster in this one)
// owns the data directory.
var ErrInUse = errors.New("data directory is in use by another running BirdCar process")

// lockFile sits in the data directory, outside PGDATA, and marks it
// BirdCar's. Its flock is held for a Cluster's whole life and the kernel
// drops it when the process dies, so a free lock with a live postmaster
// means the owner crashed.
const lockFile = "birdcar.lock"

// lockDataDir takes the data directory's lock without waiting; the file is
// opened close-on-exec so the postmaster never inherits (and keeps) it.
func lockDataDir(dir string) (*os.File, error) {
	// No symlink: as root we write here, and the directory is the postgres
	// user's.
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(f.Name())
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (pid %s): stop it first, or use another data directory", ErrInUse, dir, strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	// The pid only feeds the message above: failing to write it is harmless.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// unlockDataDir releases the lock and closes f. Closing alone is not
// enough: a child another goroutine forks meanwhile holds a copy of the
// descriptor, and with it the lock, until it execs, which on a loaded
// machine can be long enough for our next Start on the directory to find
// it taken. LOCK_UN releases it for every copy.
func unlockDataDir(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // closing releases it anyway
	f.Close()
}
