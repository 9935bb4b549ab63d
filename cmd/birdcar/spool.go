package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"birdcar/sql/localpg"
)

// fileSpool keeps the calls a stopping process could not write (the
// database was away) as files in the data directory, readable by this
// user alone: they hold phone numbers.
type fileSpool struct{ dir string }

const spoolPattern = "call-spool-*.json"

// Save writes data to a file of its own, so processes sharing the
// directory never overwrite each other's.
func (f fileSpool) Save(data []byte) error {
	name := fmt.Sprintf("call-spool-%d-%d.json", os.Getpid(), time.Now().UnixNano())
	_, err := localpg.WriteSecret(f.dir, name, data)
	return err
}

// Take claims every spooled file (a rename: of processes starting
// together, one gets each), and returns their calls as one JSON array.
func (f fileSpool) Take() ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(f.dir, spoolPattern))
	if err != nil || len(names) == 0 {
		return nil, err
	}
	var all []json.RawMessage
	var errs []error
	for _, name := range names {
		claimed := fmt.Sprintf("%s.taken-%d", name, os.Getpid())
		if err := os.Rename(name, claimed); err != nil {
			continue // another process took it
		}
		data, err := os.ReadFile(claimed)
		var calls []json.RawMessage
		if err == nil {
			err = json.Unmarshal(data, &calls)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(name), err))
			continue // kept, renamed, for a person to look at
		}
		all = append(all, calls...)
		os.Remove(claimed)
	}
	if len(all) == 0 {
		return nil, errors.Join(errs...)
	}
	data, err := json.Marshal(all)
	return data, errors.Join(append(errs, err)...)
}
