package localpg

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// passwordFile holds the birdcar role's password, beside PGDATA, readable
// by the user running BirdCar alone: every connection needs it, so no other
// local user can connect.
const passwordFile = "postgres-password"

// hbaConf makes every connection give the password: without it any local
// user could connect as the superuser over 127.0.0.1, and run programs as
// the server's user through COPY … TO PROGRAM.
const hbaConf = `# Written by BirdCar: every connection needs the birdcar role's password,
# which is in ../` + passwordFile + `.
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
`

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// password returns the cluster's password, making one when there is none
// yet: for a new cluster, or one made before BirdCar set passwords (its
// pg_hba.conf trusts everyone; start sets the password). A cluster that
// asks for a password BirdCar no longer has is an error.
func (s server) password() (string, error) {
	b, err := readNoFollow(s.passwordPath())
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the PostgreSQL password: %w", err)
	}
	if s.initialised() {
		trusts, err := s.trusts(s.pgdata())
		if err != nil {
			return "", err
		}
		if !trusts {
			return "", fmt.Errorf("the PostgreSQL cluster in %s needs the password that was in %s, and that file is missing or empty: restore it, or remove %s to start afresh (its data goes with it)",
				s.pgdata(), s.passwordPath(), s.dataDir)
		}
	}
	p := rand.Text() // 128 bits, in letters and digits safe in a URL
	if err := replaceFile(s.dataDir, passwordFile, []byte(p+"\n"), nil); err != nil {
		return "", err
	}
	return p, nil
}

func (s server) passwordPath() string { return filepath.Join(s.dataDir, passwordFile) }

// initialised reports whether PGDATA holds a cluster.
func (s server) initialised() bool {
	_, err := os.Stat(filepath.Join(s.pgdata(), "PG_VERSION"))
	return err == nil
}

// trusts reports whether the pg_hba.conf of the cluster in pgdata lets
// anyone in without a password, as initdb --auth=trust makes it.
func (s server) trusts(pgdata string) (bool, error) {
	hba, err := readNoFollow(filepath.Join(pgdata, "pg_hba.conf"))
	if err != nil {
		return false, err
	}
	return trusting(hba), nil
}

// trusting reports whether a line of pg_hba.conf uses the trust method.
func trusting(hba []byte) bool {
	for line := range strings.Lines(string(hba)) {
		line, _, _ = strings.Cut(line, "#")
		if slices.Contains(strings.Fields(line), "trust") {
			return true
		}
	}
	return false
}

// requirePassword gives the birdcar role the password and makes
// pg_hba.conf ask every connection for it. PostgreSQL runs in single-user
// mode, so the cluster in pgdata, whose server must not be running, serves
// no connection on the way; ALTER ROLE gets the SCRAM verifier, not the
// password, so no log can show the password. Run again after a crash, it
// finishes the job.
func (s server) requirePassword(ctx context.Context, pgdata, password string) error {
	verifier, err := scramVerifier(password)
	if err != nil {
		return err
	}
	// exit_on_error: single-user mode otherwise reports an error and exits 0.
	cmd := s.command(ctx, "postgres", "--single", "-D", pgdata, "-c", "exit_on_error=on", "postgres")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'\n", pgx.Identifier{superuser}.Sanitize(), verifier))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("set the password of PostgreSQL in %s: %w%s", pgdata, err, tail(out))
	}
	return replaceFile(pgdata, "pg_hba.conf", []byte(hbaConf), s.cred)
}

// scramVerifier is what PostgreSQL keeps of a password for scram-sha-256
// (RFC 5802 and 7677): a fresh salt, the iteration count, StoredKey and
// ServerKey.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt) // never fails
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(msg string) []byte {
		h := hmac.New(sha256.New, salted)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	storedKey := sha256.Sum256(mac("Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(storedKey[:]), b64(mac("Server Key"))), nil
}
