package localpg

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// serverUser is the account the server binaries run as when this process is
// root, which initdb and postgres refuse to run as.
const serverUser = "postgres"

// serverCredential returns who the server binaries run as: nil for this
// process's own user, or the postgres system user when we are root.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("running as root, which initdb refuses, and there is no %q user to run PostgreSQL as (%v): install the PostgreSQL server package, run as an ordinary user, or set DATABASE_URL", serverUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", serverUser, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", serverUser, u.Gid, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// Without the supplementary groups setgroups would clear them, and a
	// path the user reaches only through one of them would fail later.
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %s: groups: %w", serverUser, err)
	}
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(g))
		}
	}
	return cred, nil
}

// checkReachable fails when cred cannot search every directory from dir up
// to the root: the server would fail to chdir into its data directory with
// a message that does not say which directory is at fault.
func checkReachable(dir string, cred *syscall.Credential) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil // not a Unix file system: nothing we can check
		}
		// As in the kernel, only the first matching class of bits counts.
		var bit os.FileMode = 0o001
		switch {
		case st.Uid == cred.Uid:
			bit = 0o100
		case st.Gid == cred.Gid || slices.Contains(cred.Groups, st.Gid):
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("PostgreSQL runs as the %s user because initdb refuses root, and that user cannot enter %s (mode %#o, owner uid %d): choose a data directory it can reach, or chmod o+x %s",
				serverUser, d, uint32(fi.Mode().Perm()), st.Uid, d)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}
