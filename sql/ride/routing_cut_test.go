package ride

import (
	"testing"
	"time"

	"birdcar/sql/db"
)

// TestRouteTable_CutOutlivesAnOlderRead: a reload whose read began before
// a Cut (so before the ride's end committed) installs the route as it was
// then; the Cut still holds over it. A reload that began after the Cut
// read the end (and any later extension) itself, and is taken as it is.
func TestRouteTable_CutOutlivesAnOlderRead(t *testing.T) {
	t.Parallel()
	const number, id, caller = "+3197010000001", int64(7), "+31611111111"
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	open := db.RoutesOpenOfRow{ProxyNumberID: id, ProxyNumber: number, RideID: 1, CallerPhone: caller,
		CalleePhone: "+31622222222", ValidFrom: now.Add(-time.Hour), Open: true}
	install := func(tbl *RouteTable, row db.RoutesOpenOfRow, began uint64) {
		t.Helper()
		rows := []db.RoutesOpenOfRow{row}
		if err := tbl.install(id, rows, []memRoute{toMemRoute(db.RoutesOpenRow(row))}, began); err != nil {
			t.Fatal(err)
		}
	}
	routes := func(tbl *RouteTable) bool {
		_, ok := tbl.find(number, caller, now.Add(time.Second), false)
		return ok
	}
	tbl := &RouteTable{byNumber: map[string][]memRoute{}, numberOf: map[int64]string{}}
	install(tbl, open, tbl.readBegins())
	if !routes(tbl) {
		t.Fatal("the open route does not route")
	}

	began := tbl.readBegins() // a notice's reload starts reading …
	tbl.Cut(number, 1, now)   // … the ride ends here, and is cut …
	install(tbl, open, began) // … and the reload installs what it read before
	if routes(tbl) {
		t.Error("a reload that read before the Cut brought the ended route back")
	}

	// The ride's own notice: its read begins after the Cut and sees the
	// end; then an extension, read by a later reload, stands.
	ended := open
	ended.Open, ended.ValidUntil = false, now
	install(tbl, ended, tbl.readBegins())
	if len(tbl.cuts) != 0 {
		t.Errorf("%d cuts kept after a reload read past them", len(tbl.cuts))
	}
	extended := open
	extended.Open, extended.ValidUntil = false, now.Add(time.Hour)
	install(tbl, extended, tbl.readBegins())
	if !routes(tbl) {
		t.Error("an extension read after the Cut was cut again")
	}
}
