package ride_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"birdcar/sql/ride"
)

// TestAudit_EveryChangeNamesItsActor makes each kind of change as an
// operator and checks the log says who did what to which ride, person
// or number, and never a party's phone.
func TestAudit_EveryChangeNamesItsActor(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	dana := ride.Actor{Kind: ride.ActorOperator, Name: "Dana Dispatch", Login: "dana"}
	ctx := ride.WithActor(t.Context(), dana)
	svc := b.Rides

	num, err := svc.AddNumber(ctx, ride.NumberInput{Number: "+3197000000050", Country: "NL"})
	if err != nil {
		t.Fatal(err)
	}
	cust, err := svc.CreatePerson(ctx, ride.RoleCustomer, ride.PersonInput{Name: "Caitlin", Phone: "+31611111111"})
	if err != nil {
		t.Fatal(err)
	}
	drv, err := svc.CreatePerson(ctx, ride.RoleDriver, ride.PersonInput{Name: "Dave", Phone: "+31622222222"})
	if err != nil {
		t.Fatal(err)
	}
	name := "Caitlin B"
	if _, err := svc.PatchPerson(ctx, ride.RoleCustomer, cust.ID, ride.PersonPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.CreateRide(ctx, ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: "A", Destination: "B", PickupAt: b.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EndRide(ctx, r.ID, ride.RideCancelled); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ExtendGrace(ctx, r.ID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetNumberEnabled(ctx, num.ID, false); err != nil {
		t.Fatal(err)
	}
	spare, err := svc.CreatePerson(ctx, ride.RoleDriver, ride.PersonInput{Name: "Spare", Phone: "+31633333333"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeletePerson(ctx, ride.RoleDriver, spare.ID); err != nil {
		t.Fatal(err)
	}

	entries, next, err := svc.AuditLog(t.Context(), ride.AuditFilter{})
	if err != nil || next != nil {
		t.Fatalf("audit log: %v (next %v)", err, next)
	}
	var got []string
	for _, e := range slices.Backward(entries) {
		if e.Actor != dana {
			t.Errorf("%s recorded as %+v, want %+v", e.Action, e.Actor, dana)
		}
		for _, phone := range []string{cust.Phone, drv.Phone, spare.Phone, "Caitlin", "Dave"} {
			if strings.Contains(e.Detail, phone) || strings.Contains(e.Number, phone) {
				t.Errorf("%s's entry mentions %q: %+v", e.Action, phone, e)
			}
		}
		what := e.Action
		if e.RideID != nil {
			what += " ride=" + itoa(*e.RideID)
		}
		if e.PersonID != nil {
			what += " " + string(e.PersonRole) + "=" + itoa(*e.PersonID)
		}
		if e.Number != "" {
			what += " number=" + e.Number
		}
		got = append(got, what)
	}
	rid, n := itoa(r.ID), num.Number
	want := []string{
		"number.add number=" + n,
		"person.create customer=" + itoa(cust.ID),
		"person.create driver=" + itoa(drv.ID),
		"person.update customer=" + itoa(cust.ID),
		"ride.create ride=" + rid + " number=" + n,
		"ride.end ride=" + rid + " number=" + n,
		"ride.extend ride=" + rid + " number=" + n,
		"number.disable number=" + n,
		"person.create driver=" + itoa(spare.ID),
		"person.delete driver=" + itoa(spare.ID),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log, oldest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAudit_SystemByDefaultAndRolledBackWithTheChange(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 1)
	r := b.mustRide(t, c, d)
	// The ride's creation, with no actor in the context: BirdCar's own.
	entries, _, err := b.Rides.AuditLog(t.Context(), ride.AuditFilter{RideID: r.ID})
	if err != nil || len(entries) != 1 || entries[0].Actor != ride.System || entries[0].Action != ride.AuditRideCreate {
		t.Fatalf("ride's audit %+v, %v; want its creation by system", entries, err)
	}
	// A refused change leaves no entry.
	ctx := ride.WithActor(t.Context(), ride.Actor{Kind: ride.ActorAPI, Name: "acme"})
	if _, err := b.Rides.ExtendGrace(ctx, r.ID, 1); ride.ErrorCode(err) != ride.CodeRideActive {
		t.Fatalf("extend an active ride: %v", err)
	}
	if _, err := b.Rides.CreatePerson(ctx, ride.RoleCustomer, ride.PersonInput{Name: "Twin", Phone: c.Phone}); ride.ErrorCode(err) != ride.CodeDuplicatePhone {
		t.Fatalf("duplicate phone: %v", err)
	}
	all, _, err := b.Rides.AuditLog(t.Context(), ride.AuditFilter{Actor: "acme"})
	if err != nil || len(all) != 0 {
		t.Errorf("refused changes recorded: %+v, %v", all, err)
	}
}

func TestAuditLog_FiltersAndPages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 3)
	ann := ride.WithActor(t.Context(), ride.Actor{Kind: ride.ActorOperator, Name: "Ann Admin", Login: "ann"})
	api := ride.WithActor(t.Context(), ride.Actor{Kind: ride.ActorAPI, Name: "acme-backend"})
	var rides []ride.Ride
	for i := range 3 {
		use := ann
		if i == 1 {
			use = api
		}
		r, err := b.Rides.CreateRide(use, ride.NewRide{CustomerID: c.ID, DriverID: d.ID, Start: "A", Destination: "B", PickupAt: b.Clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Rides.EndRide(use, r.ID, ride.RideCompleted); err != nil {
			t.Fatal(err)
		}
		rides = append(rides, r)
		b.Clock.Advance(24 * time.Hour)
	}
	count := func(f ride.AuditFilter) int {
		t.Helper()
		es, _, err := b.Rides.AuditLog(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		f    ride.AuditFilter
		want int
	}{
		{"by operator's name, any case", ride.AuditFilter{Actor: "ann admin"}, 4},
		{"by user name", ride.AuditFilter{Actor: "ann"}, 4},
		{"by token", ride.AuditFilter{Actor: "acme"}, 2},
		{"by action", ride.AuditFilter{Action: ride.AuditRideCreate}, 3},
		{"by thing", ride.AuditFilter{Action: "ride"}, 6},
		{"by ride", ride.AuditFilter{RideID: rides[1].ID}, 2},
		{"by day", ride.AuditFilter{Since: start.AddDate(0, 0, 1), Until: start.AddDate(0, 0, 2), Action: "ride"}, 2},
		{"combined", ride.AuditFilter{Actor: "ann", Action: ride.AuditRideEnd, Since: start.AddDate(0, 0, 2)}, 1},
	} {
		if got := count(tt.f); got != tt.want {
			t.Errorf("%s: %d entries, want %d", tt.name, got, tt.want)
		}
	}

	// Newest first, in pages that neither repeat nor skip.
	var seen []int64
	page := ride.Page{Limit: 4}
	for range 10 {
		es, next, err := b.Rides.AuditLog(t.Context(), ride.AuditFilter{Page: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if len(seen) > 0 && e.ID >= seen[len(seen)-1] {
				t.Errorf("entry %d after %d: not newest first", e.ID, seen[len(seen)-1])
			}
			seen = append(seen, e.ID)
		}
		if next == nil {
			break
		}
		page.After = *next
	}
	if total := count(ride.AuditFilter{Page: ride.Page{Limit: 100}}); len(seen) != total {
		t.Errorf("paged through %d entries, the log has %d", len(seen), total)
	}
}

func TestTimeline_ShowsWhoCreatedEndedAndExtended(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 1)
	ctx := ride.WithActor(t.Context(), ride.Actor{Kind: ride.ActorOperator, Name: "Dana", Login: "dana"})
	r, err := b.Rides.CreateRide(ctx, ride.NewRide{CustomerID: c.ID, DriverID: d.ID, Start: "A", Destination: "B", PickupAt: b.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	b.Clock.Advance(time.Minute)
	if r, err = b.Rides.EndRide(ctx, r.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	b.Clock.Advance(time.Minute)
	if _, err := b.Rides.ExtendGrace(ride.WithActor(t.Context(), ride.Actor{Kind: ride.ActorAPI, Name: "acme"}), r.ID, 3); err != nil {
		t.Fatal(err)
	}
	events, err := b.Rides.Timeline(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range events {
		if a := ev.Audit; a != nil {
			got = append(got, a.Action+" "+a.Actor.Name+" "+a.Detail+" "+ev.At.Format("15:04"))
		}
	}
	want := []string{"ride.create Dana customer #" + itoa(c.ID) + ", driver #" + itoa(d.ID) + " 12:00",
		"ride.end Dana completed 12:01", "ride.extend acme +3 h 12:02"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline's audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
