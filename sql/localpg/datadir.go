package localpg

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// ErrDataDir means the data directory named is not one BirdCar may take: a
// symbolic link, not a directory, someone else's, or one holding other
// things than BirdCar's.
var ErrDataDir = errors.New("unsuitable data directory")

// makeDataDir makes dir (absolute) ready to hold a cluster whose server runs
// as cred (nil: as we do). It creates dir, or takes an existing directory
// that is empty or already BirdCar's, and owned by the server's user. It
// never follows a symbolic link at dir, and gives cred only a directory it
// created: handing over anything else would give the postgres user whatever
// the path leads to. The lock file it leaves marks the directory BirdCar's.
func makeDataDir(dir string, cred *syscall.Credential) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(dir), 0o700); err == nil {
			err = os.Mkdir(dir, 0o700)
		}
		if err == nil {
			// The server writes its log here and initdb creates PGDATA here.
			if cred != nil {
				if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
					return err
				}
			}
			return markDataDir(dir)
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err = os.Lstat(dir) // made by a process starting beside us
	}
	if err != nil {
		return err
	}
	if err := checkExisting(dir, fi, cred); err != nil {
		return err
	}
	return markDataDir(dir)
}

// checkExisting refuses an existing dir BirdCar must not take over.
func checkExisting(dir string, fi fs.FileInfo, cred *syscall.Credential) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link, which BirdCar does not follow: name the directory itself", ErrDataDir, dir)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory: name a directory, or one that does not exist yet", ErrDataDir, dir)
	}
	names, err := readDirNames(dir)
	if err != nil {
		return err
	}
	if len(names) > 0 && !slices.Contains(names, lockFile) {
		return fmt.Errorf("%w: %s is not empty and holds no BirdCar data (no %s): name a new or empty directory", ErrDataDir, dir, lockFile)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		switch {
		case cred != nil && st.Uid != cred.Uid:
			return fmt.Errorf("%w: %s belongs to uid %d, and BirdCar gives the %s user (which runs PostgreSQL, as initdb refuses root) only a directory it creates: name one that does not exist yet, or chown %s %s",
				ErrDataDir, dir, st.Uid, serverUser, serverUser, dir)
		case cred == nil && st.Uid != uint32(os.Geteuid()):
			return fmt.Errorf("%w: %s belongs to uid %d, not to this user (uid %d): name a directory of your own, or one that does not exist yet",
				ErrDataDir, dir, st.Uid, os.Geteuid())
		}
	}
	return nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// markDataDir creates the lock file, which Start locks, if missing.
func markDataDir(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// WriteSecret writes secret to the file name in the data directory dataDir,
// which it creates or checks as Start does. The file is readable by this
// user alone, and replaces any earlier one whole. It returns the file's
// path.
func WriteSecret(dataDir, name string, secret []byte) (string, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	cred, err := serverCredential()
	if err != nil {
		cred = nil // no PostgreSQL server here to run as another user
	}
	if err := makeDataDir(dir, cred); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), replaceFile(dir, name, secret, nil)
}

// replaceFile writes data to dir/name through a new file renamed over it,
// mode 0600 and owned by cred (nil: by us). When we are root and dir is the
// postgres user's, that user may have put a symbolic link at name: a new
// file and a rename follow no link.
func replaceFile(dir, name string, data []byte, cred *syscall.Credential) error {
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing to remove
	_, err = f.Write(data)
	if err == nil && cred != nil {
		err = f.Chown(int(cred.Uid), int(cred.Gid))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}

// readNoFollow reads a file BirdCar wrote, refusing a symbolic link put in
// its place.
func readNoFollow(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
