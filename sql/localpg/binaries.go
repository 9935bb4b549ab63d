package localpg

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoBinaries means no directory holding pg_ctl, initdb and postgres was
// found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked on PATH and in /usr/lib/postgresql/*/bin): install the PostgreSQL server package, or set DATABASE_URL")

// binRoot holds one bin directory per installed major version, as Debian and
// Ubuntu lay them out; the server binaries there are not on PATH. A variable
// so tests can point it elsewhere.
var binRoot = "/usr/lib/postgresql"

// serverBinaries must sit in one directory: pg_ctl and initdb find postgres
// beside themselves.
var serverBinaries = []string{"pg_ctl", "initdb", "postgres"}

// FindBinaries returns the directory holding pg_ctl, initdb and postgres:
// the one pg_ctl on PATH lives in, else the newest version under
// /usr/lib/postgresql/*/bin. It returns ErrNoBinaries when there is none.
func FindBinaries() (dir string, err error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// A symlink on PATH (Homebrew, /usr/local/bin) may point into a
		// directory that holds the rest; the link's own directory may not.
		candidates := []string{filepath.Dir(p)}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append([]string{filepath.Dir(real)}, candidates...)
		}
		for _, d := range candidates {
			if hasServerBinaries(d) {
				// Absolute: a relative PATH entry would break once the
				// binaries run in the data directory.
				return filepath.Abs(d)
			}
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(binRoot, "*", "bin")) // the pattern is valid
	slices.SortFunc(dirs, func(a, b string) int {
		return slices.Compare(versionKey(b), versionKey(a)) // newest first
	})
	for _, d := range dirs {
		if hasServerBinaries(d) {
			return filepath.Abs(d)
		}
	}
	return "", ErrNoBinaries
}

func hasServerBinaries(dir string) bool {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionKey turns a version directory name ("15", "9.6") into numbers that
// compare numerically, so 15 sorts above 9.6; names that are not numbers
// sort lowest.
func versionKey(binDir string) []int {
	var key []int
	for part := range strings.SplitSeq(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			n = -1
		}
		key = append(key, n)
	}
	return key
}
