// Package sample puts demonstration data into a database, like the seed
// tutorial's init.php: a few customers, drivers and pool numbers.
package sample

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
)

// The numbers are from the UK's +44 7700 900xxx range, which Ofcom keeps
// for drama: they look real and ring nobody.
var (
	people = []db.PersonCreateIfMissingParams{
		{Role: "customer", Name: "Caitlin Carter", Phone: "+447700900001"},
		{Role: "customer", Name: "Brian Bird", Phone: "+447700900002"},
		{Role: "customer", Name: "Ada Okafor", Phone: "+447700900003"},
		{Role: "driver", Name: "Dave Driver", Phone: "+447700900101"},
		{Role: "driver", Name: "Eva Express", Phone: "+447700900102"},
		{Role: "driver", Name: "Femi Fast", Phone: "+447700900103"},
	}
	numbers = []db.ProxyNumberCreateIfMissingParams{
		{Number: "+447700900201", Country: "GB"},
		{Number: "+447700900202", Country: "GB"},
		{Number: "+447700900203", Country: "GB"},
		{Number: "+447700900204", Country: "GB"},
		{Number: "+447700900205", Country: "GB"},
	}
)

// Insert adds the sample rows that are missing; it never changes existing ones.
func Insert(ctx context.Context, tx db.DBTX) error {
	q := db.New(tx)
	for _, p := range people {
		if err := q.PersonCreateIfMissing(ctx, p); err != nil {
			return fmt.Errorf("sample %s %s: %w", p.Role, p.Name, err)
		}
	}
	for _, n := range numbers {
		if err := q.ProxyNumberCreateIfMissing(ctx, n); err != nil {
			return fmt.Errorf("sample number %s: %w", n.Number, err)
		}
	}
	return nil
}

// IfEmpty inserts the sample data only into a database nobody has used yet,
// and says whether it did.
func IfEmpty(ctx context.Context, conn interface {
	Begin(context.Context) (pgx.Tx, error)
}) (bool, error) {
	inserted := false
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Two processes starting at once on an empty database seed once.
		if _, err := tx.Exec(ctx, "LOCK TABLE customers, drivers, proxy_numbers IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		empty, err := db.New(tx).SampleDatabaseEmpty(ctx)
		if err != nil || !empty {
			return err
		}
		inserted = true
		return Insert(ctx, tx)
	})
	return inserted, err
}
