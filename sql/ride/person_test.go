package ride_test

import (
	"strings"
	"testing"
	"time"

	"birdcar/sql/ride"
)

func TestPeople_OneRuleForBothRoles(t *testing.T) {
	t.Parallel()
	for _, role := range ride.Roles {
		t.Run(string(role), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			ctx := t.Context()
			// Each role's test its own phone: the two run side by side in
			// transactions of their own, and the same phone inserted into
			// both tables crosswise would deadlock on the unique indexes.
			last := map[ride.Role]string{ride.RoleCustomer: "8", ride.RoleDriver: "7"}[role]
			p, err := b.Rides.CreatePerson(ctx, role, ride.PersonInput{Name: "  Ada Okafor ", Phone: "06 1234 567" + last})
			if err != nil || p.Name != "Ada Okafor" || p.Phone != "+3161234567"+last || p.Role != role {
				t.Fatalf("created %+v, %v; want the name trimmed and the phone in E.164", p, err)
			}
			t.Run("the same phone typed another way is a duplicate", func(t *testing.T) {
				_, err := b.Rides.CreatePerson(ctx, role, ride.PersonInput{Name: "Ada again", Phone: "+31 6 1234567" + last})
				wantCode(t, err, ride.CodeDuplicatePhone, "phone")
				if msg := ride.AsError(err).Message; msg != "A "+string(role)+" with the phone number +3161234567"+last+" already exists." {
					t.Errorf("message = %q", msg)
				}
			})
			t.Run("the other role may have the same phone", func(t *testing.T) {
				other := ride.RoleDriver
				if role == ride.RoleDriver {
					other = ride.RoleCustomer
				}
				if _, err := b.Rides.CreatePerson(ctx, other, ride.PersonInput{Name: "Ada", Phone: p.Phone}); err != nil {
					t.Errorf("as %s: %v", other, err)
				}
			})
			t.Run("update changes name and phone", func(t *testing.T) {
				got, err := b.Rides.UpdatePerson(ctx, role, p.ID, ride.PersonInput{Name: "Ada O.", Phone: "0031 6 8765 4321"})
				if err != nil || got.Name != "Ada O." || got.Phone != "+31687654321" || got.ID != p.ID {
					t.Errorf("updated %+v, %v", got, err)
				}
				if again, err := b.Rides.Person(ctx, role, p.ID); err != nil || again != got {
					t.Errorf("read back %+v, %v; want %+v", again, err, got)
				}
			})
			t.Run("list filters by name or phone, by name", func(t *testing.T) {
				b.Person(t, role, "Bram", "+31611110000")
				b.Person(t, role, "Anna", "+31611110001")
				for q, want := range map[string]string{"": "Ada O.,Anna,Bram", "an": "Anna", "1111000": "Anna,Bram", "xyz": ""} {
					people, err := b.Rides.People(ctx, role, q, 10)
					if err != nil {
						t.Fatal(err)
					}
					var names []string
					for _, p := range people {
						names = append(names, p.Name)
					}
					if got := strings.Join(names, ","); got != want {
						t.Errorf("People(%q) = %s, want %s", q, got, want)
					}
				}
				if people, _ := b.Rides.People(ctx, role, "", 2); len(people) != 2 {
					t.Errorf("limit 2 gave %d people", len(people))
				}
			})
			t.Run("an unknown id is not found", func(t *testing.T) {
				_, err := b.Rides.Person(ctx, role, 999999)
				wantCode(t, err, ride.CodePersonNotFound, "")
				_, err = b.Rides.UpdatePerson(ctx, role, 999999, ride.PersonInput{Name: "X", Phone: "+31611119999"})
				wantCode(t, err, ride.CodePersonNotFound, "")
			})
		})
	}
}

// TestPeople_PhonesAsTyped: the table, through the domain that
// both the console and the API call.
func TestPeople_PhonesAsTyped(t *testing.T) {
	t.Parallel()
	b := setup(t, nil) // DEFAULT_COUNTRY NL
	for typed, want := range map[string]string{
		"+49 (0)151 2345 6789": "+4915123456789", // the bracketed trunk 0 is not dialled
		"612345678":            "+31612345678",   // not Australia's +61 2345678
		"+44 7700 900555":      "+447700900555",  // the sample data's fictional range
	} {
		p, err := b.Rides.CreatePerson(t.Context(), ride.RoleDriver, ride.PersonInput{Name: "Typed", Phone: typed})
		if err != nil || p.Phone != want {
			t.Errorf("%q stored as %q, %v; want %q", typed, p.Phone, err, want)
		}
	}
	_, err := b.Rides.CreatePerson(t.Context(), ride.RoleDriver, ride.PersonInput{Name: "Again", Phone: "0049 151 23456789"})
	wantCode(t, err, ride.CodeDuplicatePhone, "phone")
}

func TestPeople_InputIsChecked(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tt := range []struct {
		name      string
		in        ride.PersonInput
		code      ride.Code
		field     string
		wireName  string
		inMessage string
	}{
		{"a name is required", ride.PersonInput{Name: "  ", Phone: "+31611111111"}, ride.CodeInvalid, "name", "invalid_name", "Name is required."},
		{"a name has at most 200 characters", ride.PersonInput{Name: strings.Repeat("ä", 201), Phone: "+31611111111"}, ride.CodeInvalid, "name", "invalid_name", "at most 200"},
		{"a name is plain text", ride.PersonInput{Name: "Ada\nB", Phone: "+31611111111"}, ride.CodeInvalid, "name", "invalid_name", "plain text"},
		{"a phone is required", ride.PersonInput{Name: "Ada", Phone: ""}, ride.CodeInvalidPhone, "phone", "invalid_phone", "Phone: a phone number is required."},
		{"a phone has digits", ride.PersonInput{Name: "Ada", Phone: "call me"}, ride.CodeInvalidPhone, "phone", "invalid_phone", "Phone: a phone number may contain only"},
		{"a phone is possible", ride.PersonInput{Name: "Ada", Phone: "+3161"}, ride.CodeInvalidPhone, "phone", "invalid_phone", "not a valid phone number"},
		{"a phone is not a digit short", ride.PersonInput{Name: "Ada", Phone: "+3161234567"}, ride.CodeInvalidPhone, "phone", "invalid_phone", "not a valid phone number"},
		{"a phone is not a digit long", ride.PersonInput{Name: "Ada", Phone: "+316123456789"}, ride.CodeInvalidPhone, "phone", "invalid_phone", "not a valid phone number"},
		{"bare digits read one way only", ride.PersonInput{Name: "Ada", Phone: "431234567"}, ride.CodeInvalidPhone, "phone", "invalid_phone", "type it with + and the country code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Rides.CreatePerson(t.Context(), ride.RoleCustomer, tt.in)
			wantCode(t, err, tt.code, tt.field)
			if e := ride.AsError(err); e.Name() != tt.wireName || !strings.Contains(e.Message, tt.inMessage) {
				t.Errorf("error %s %q, want %s saying %q", e.Name(), e.Message, tt.wireName, tt.inMessage)
			}
		})
	}
	t.Run("an unknown role is refused", func(t *testing.T) {
		_, err := b.Rides.CreatePerson(t.Context(), "passenger", ride.PersonInput{Name: "Ada", Phone: "+31611111111"})
		wantCode(t, err, ride.CodePersonNotFound, "")
	})
}

func TestDeletePerson_OnlyWithoutRides(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	cust, drv, _ := b.People(t, 2)

	t.Run("someone without rides is deleted", func(t *testing.T) {
		loner := b.Person(t, ride.RoleDriver, "Loner", "+31655555555")
		if p, err := b.Rides.DeletePerson(ctx, ride.RoleDriver, loner.ID); err != nil || p.Name != "Loner" {
			t.Fatalf("delete: %+v, %v", p, err)
		}
		_, err := b.Rides.Person(ctx, ride.RoleDriver, loner.ID)
		wantCode(t, err, ride.CodePersonNotFound, "")
	})
	r := b.mustRide(t, cust, drv)
	refusal := func(role ride.Role, id int64) string {
		t.Helper()
		_, err := b.Rides.DeletePerson(ctx, role, id)
		wantCode(t, err, ride.CodePersonHasRides, "")
		return ride.AsError(err).Message
	}
	const why = "cannot be deleted: people with rides are kept so ride history stays attributable."
	t.Run("an active ride keeps them", func(t *testing.T) {
		if got, want := refusal(ride.RoleCustomer, cust.ID), "Caitlin has an active ride (#"+itoa(r.ID)+") and "+why; got != want {
			t.Errorf("refusal %q, want %q", got, want)
		}
	})
	if _, err := b.Rides.EndRide(ctx, r.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	t.Run("a ride in its grace period keeps them", func(t *testing.T) {
		want := "Dave has a ride in its grace period (#" + itoa(r.ID) + ", routing until 2 May 12:00) and " + why
		if got := refusal(ride.RoleDriver, drv.ID); got != want {
			t.Errorf("refusal %q, want %q", got, want)
		}
	})
	t.Run("a past ride keeps them", func(t *testing.T) {
		b.Clock.Advance(48 * time.Hour)
		if got, want := refusal(ride.RoleDriver, drv.ID), "Dave has ride history (#"+itoa(r.ID)+") and "+why; got != want {
			t.Errorf("refusal %q, want %q", got, want)
		}
	})
	t.Run("an unknown id is not found", func(t *testing.T) {
		_, err := b.Rides.DeletePerson(ctx, ride.RoleCustomer, 999999)
		wantCode(t, err, ride.CodePersonNotFound, "")
	})
}
