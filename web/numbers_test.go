package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"birdcar/components"
	"birdcar/sql/ride"
	"birdcar/sql/ride/phone"
)

// storedNumber reads a pool number back through the domain.
func (b *testBundle) storedNumber(t *testing.T, number string) ride.Number {
	t.Helper()
	nums, err := b.Rides.Numbers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nums {
		if n.Number == number {
			return n
		}
	}
	t.Fatalf("%s is not in the pool", number)
	return ride.Number{}
}

func TestNumbers_AddOne(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tc := range []struct {
		name, number, country string
		status                int
		field, err            string
	}{
		{"letters", "+31 6 CALL", "", 422, "number-number-error", "may contain only digits"},
		{"bad country", "+31612340001", "NLD", 422, "number-country-error", "two-letter ISO code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, doc := b.console(t, "POST", "/numbers", url.Values{"number": {tc.number}, "country": {tc.country}}, true)
			if r.StatusCode != tc.status || !strings.Contains(doc.Find(sel(tc.field)).Text(), tc.err) {
				t.Errorf("%d %q", r.StatusCode, doc.Find(sel(tc.field)).Text())
			}
			if v, _ := doc.Find(sel("number-add-number")).Attr("value"); v != tc.number {
				t.Errorf("input lost what was typed: %q", v)
			}
		})
	}

	r, doc := b.console(t, "POST", "/numbers", url.Values{"number": {"06 1234 0001"}}, true)
	if r.StatusCode != 200 || r.Header.Get(hxTrigger) != components.PoolChanged {
		t.Fatalf("add: %d, trigger %q", r.StatusCode, r.Header.Get(hxTrigger))
	}
	row := doc.Find(sel("number-row"))
	if row.Length() != 1 || row.Find(sel("number-number")).Text() != "+31 6 12340001" || !strings.Contains(row.Text(), "NL") {
		t.Errorf("rows after add: %q", row.Text())
	}
	r, doc = b.console(t, "POST", "/numbers", url.Values{"number": {"+31612340001"}}, true)
	if r.StatusCode != 409 || !strings.Contains(doc.Find(sel("number-number-error")).Text(), "already in the pool") {
		t.Errorf("duplicate: %d", r.StatusCode)
	}
}

func TestNumbers_BulkPaste(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.Number(t, "+31612340009", "NL")
	paste := strings.Join([]string{
		"+31 6 1234 0001",
		"",
		"+31 6 CALL",
		"+447700900123, gb",
		"+31612340009",
		"06 1234 0001",
		"+31612340002,NLD",
		"020 7946 0000,GB",
		"+31 6 1234 0003,GB",
	}, "\r\n")
	r, doc := b.console(t, "POST", "/numbers/bulk", url.Values{"numbers": {paste}}, true)
	if r.StatusCode != 200 || r.Header.Get(hxTrigger) != components.PoolChanged {
		t.Fatalf("bulk: %d", r.StatusCode)
	}
	report := doc.Find(sel("bulk-report"))
	if got := report.Find(sel("bulk-added")).Text(); got != "Added 3 numbers." {
		t.Errorf("report says %q", got)
	}
	var rejects []string
	report.Find(sel("bulk-reject")).Each(func(_ int, s *goquery.Selection) { rejects = append(rejects, s.Text()) })
	for i, want := range []string{
		"line 3 (+31 6 CALL): Number: a phone number may contain only digits",
		"line 5 (+31612340009): +31 6 12340009 is already in the pool.",
		"line 6 (06 1234 0001): +31 6 12340001 is already in the pool.",
		"line 7 (+31612340002,NLD): Country must be a two-letter ISO code",
		"line 9 (+31 6 1234 0003,GB): +31 6 12340003 is a number of NL, not of GB",
	} {
		if i >= len(rejects) || !strings.HasPrefix(rejects[i], want) {
			t.Errorf("reject %d: got %q, want %q…", i, rejects, want)
		}
	}
	if len(rejects) != 5 {
		t.Errorf("%d rejects, want 5", len(rejects))
	}
	nums, err := b.Rides.Numbers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nums {
		got = append(got, n.Number+" "+n.Country)
	}
	if strings.Join(got, ", ") != "+31612340001 NL, +31612340009 NL, +442079460000 GB, +447700900123 GB" {
		t.Errorf("pool holds %v", got)
	}
	if doc.Find(sel("number-row")).Length() != 4 || doc.Find(sel("number-bulk")).Text() != "" {
		t.Error("the section did not show the new pool with a cleared paste box")
	}

	r, doc = b.console(t, "POST", "/numbers/bulk", url.Values{"numbers": {"\n  \n"}}, true)
	if r.StatusCode != 422 || doc.Find(sel("number-bulk-error")).Length() != 1 {
		t.Errorf("empty paste: %d", r.StatusCode)
	}
}

func TestNumbers_ToggleAndLoad(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, nums := b.People(t, 2)
	active, err := b.CreateRide(t, c, d)
	if err != nil {
		t.Fatal(err)
	}
	_, doc := b.console(t, "GET", "/numbers", nil, false)
	doc.Find(sel("number-row")).Each(func(_ int, row *goquery.Selection) {
		busy := row.Find(sel("number-number")).Text() == phone.Format(active.ProxyNumber)
		load, last := row.Find(sel("number-load")).Text(), strings.TrimSpace(row.Find(sel("number-last-assigned")).Text())
		if busy && (load != "1" || last != "1 May 2026 12:00") || !busy && (load != "0" || last != "never") {
			t.Errorf("%s: load %s, last assigned %q", row.Find(sel("number-number")).Text(), load, last)
		}
	})

	path := "/numbers/" + itoa(nums[0].ID) + "/enabled"
	for _, enabled := range []bool{false, true} {
		r, doc := b.console(t, "POST", path, url.Values{"enabled": {map[bool]string{true: "true", false: "false"}[enabled]}}, true)
		if r.StatusCode != 200 || r.Header.Get(hxTrigger) != components.PoolChanged {
			t.Fatalf("toggle: %d", r.StatusCode)
		}
		want := map[bool]string{true: "enabled", false: "disabled"}[enabled]
		if got := doc.Find(sel("number-state")).Text(); got != want {
			t.Errorf("badge %q, want %q", got, want)
		}
		if n := b.storedNumber(t, nums[0].Number); n.Enabled != enabled {
			t.Errorf("stored enabled=%v, want %v", n.Enabled, enabled)
		}
	}
	if r, _ := b.console(t, "POST", "/numbers/999999/enabled", url.Values{"enabled": {"true"}}, true); r.StatusCode != 404 {
		t.Errorf("missing number: %d", r.StatusCode)
	}
}

func TestPool_LowBanner(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.Rides.PoolLowWatermark = 3
	ctx := t.Context()
	c, d, nums := b.People(t, 3)
	health := func(wantFree int, wantLow bool) {
		t.Helper()
		h, err := b.Rides.PoolHealth(ctx)
		if err != nil || h.Free != wantFree || h.Low != wantLow {
			t.Fatalf("PoolHealth: %d %v %v, want %d %v", h.Free, h.Low, err, wantFree, wantLow)
		}
		_, doc := b.console(t, "GET", "/numbers/health", nil, true)
		if doc.Find(sel("pool-low")).Length() != map[bool]int{true: 1, false: 0}[wantLow] || doc.Find(sel("pool-free")).Text() != itoa(int64(wantFree)) {
			t.Errorf("banner: %q", doc.Text())
		}
	}
	health(3, false)

	active, err := b.CreateRide(t, c, d)
	if err != nil {
		t.Fatal(err)
	}
	health(2, true)
	_, doc := b.console(t, "GET", "/numbers", nil, false)
	if !strings.Contains(doc.Find(sel("pool-low")).Text(), "can be given only 2 more rides") {
		t.Errorf("page banner: %q", doc.Find(sel("pool-low")).Text())
	}
	// A number in use still takes rides for other people.
	if got := doc.Find(sel("pool-capacity")).Text(); got != "3" {
		t.Errorf("capacity for a new pair shown as %q, want 3", got)
	}

	// A disabled number is not free either.
	if _, err := b.Rides.SetNumberEnabled(ctx, nums[2].ID, false); err != nil {
		t.Fatal(err)
	}
	health(1, true)

	// An ended ride holds its number through the grace period, then frees it.
	if _, err := b.Rides.EndRide(ctx, active.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	health(1, true)
	b.Clock.Advance(b.Rides.GracePeriod + time.Second)
	health(2, true)
}
