package web

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"birdcar/components"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// console sends a signed-in console request — as htmx sends it when htmx is
// set, a form post when form is not nil — and parses the answer.
func (b *testBundle) console(t *testing.T, method, path string, form url.Values, htmx bool) (*http.Response, *goquery.Document) {
	t.Helper()
	var in io.Reader
	if form != nil {
		in = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, in)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if htmx {
		req.Header.Set(hxRequest, "true")
	}
	r := b.do(t, b.signIn(t, req))
	out, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	// A row fragment parses inside a table, as htmx parses it: alone, a
	// parser drops its tr and td tags.
	if bytes.HasPrefix(bytes.TrimSpace(out), []byte("<tr")) {
		out = append(append([]byte("<table><tbody>"), out...), "</tbody></table>"...)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return r, doc
}

// countPeople counts a role's rows in the database.
func (b *testBundle) countPeople(t *testing.T, role ride.Role) int64 {
	t.Helper()
	return dbtest.Rows(t, b.Rides.DB, string(role)+"s")
}

func TestPeople_PageAndFragment(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.People(t, 0)
	r, doc := b.console(t, "GET", "/people", nil, false)
	if r.StatusCode != 200 || doc.Find("title").Text() != "People · BirdCar" {
		t.Fatalf("GET /people: %d %q", r.StatusCode, doc.Find("title").Text())
	}
	if got := doc.Find(sel("customer-row")).Text(); !strings.Contains(got, "Caitlin") || !strings.Contains(got, "+31 6 11111111") {
		t.Errorf("customer row %q", got)
	}
	if got := doc.Find(sel("driver-row")).Text(); !strings.Contains(got, "Dave") {
		t.Errorf("driver row %q", got)
	}
	if doc.Find(`form[hx-post="/people/customers"] input[name="_csrf"]`).Length() != 1 {
		t.Error("the add form lacks its CSRF field")
	}
	_, frag := b.console(t, "GET", "/people", nil, true)
	if frag.Find("title").Length() != 0 || frag.Find(sel("drivers")).Length() != 1 {
		t.Error("htmx did not get the bare fragment")
	}
}

func TestPeople_Add(t *testing.T) {
	t.Parallel()
	for _, role := range []ride.Role{ride.RoleCustomer, ride.RoleDriver} {
		t.Run(string(role), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			b.People(t, 0) // Caitlin +31611111111, Dave +31622222222
			taken := map[ride.Role]string{ride.RoleCustomer: "+31611111111", ride.RoleDriver: "+31622222222"}[role]
			for _, tc := range []struct {
				name, inName, inPhone string
				status                int
				field, err            string // the error's test id and text
			}{
				{"invalid phone", "Ann", "+31 6 CALL", 422, "phone-error", "may contain only digits"},
				{"impossible phone", "Ann", "+31 6", 422, "phone-error", "not a valid phone number"},
				{"a digit short", "Ann", "+31 6 1234 567", 422, "phone-error", "not a valid phone number"},
				{"no name", "  ", "0612345678", 422, "name-error", "Name is required."},
				{"duplicate phone", "Ann", taken, 409, "phone-error", "already exists"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := b.countPeople(t, role)
					r, doc := b.console(t, "POST", components.PeoplePath(role), url.Values{"name": {tc.inName}, "phone": {tc.inPhone}}, true)
					if r.StatusCode != tc.status {
						t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
					}
					if got := doc.Find(sel(string(role) + "-" + tc.field)).Text(); !strings.Contains(got, tc.err) {
						t.Errorf("error %q, want %q", got, tc.err)
					}
					if got, _ := doc.Find(sel(string(role) + "-add-phone")).Attr("value"); got != tc.inPhone {
						t.Errorf("phone input lost what was typed: %q", got)
					}
					if n := b.countPeople(t, role); n != before {
						t.Errorf("%d %ss after a refused add, want %d", n, role, before)
					}
				})
			}

			r, doc := b.console(t, "POST", components.PeoplePath(role), url.Values{"name": {" Ann "}, "phone": {"06 1234 5678"}}, true)
			if r.StatusCode != 200 {
				t.Fatalf("valid add: %d", r.StatusCode)
			}
			rows := doc.Find(sel(string(role) + "-row"))
			if rows.Length() != 2 || !strings.Contains(rows.Text(), "Ann") || !strings.Contains(rows.Text(), "+31 6 12345678") {
				t.Errorf("rows after add: %q", rows.Text())
			}
			if doc.Find(sel(string(role)+"-added")).Length() != 1 {
				t.Error("no success note")
			}
			if v, _ := doc.Find(sel(string(role) + "-add-name")).Attr("value"); v != "" {
				t.Errorf("form not cleared: %q", v)
			}
			if n := b.countPeople(t, role); n != 2 {
				t.Errorf("%d %ss, want 2", n, role)
			}
		})
	}
}

func TestPeople_AddWithoutHTMXRedirects(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r, _ := b.console(t, "POST", "/people/customers", url.Values{"name": {"Ann"}, "phone": {"+31612345678"}}, false)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/people" {
		t.Fatalf("%d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	// A refused form without htmx comes back as the whole page.
	r, doc := b.console(t, "POST", "/people/customers", url.Values{"name": {"Ann"}, "phone": {"x"}}, false)
	if r.StatusCode != 422 || doc.Find("title").Length() != 1 || doc.Find(sel("customer-phone-error")).Length() != 1 || doc.Find(sel("drivers")).Length() != 1 {
		t.Errorf("refused form without htmx: %d", r.StatusCode)
	}
}

func TestPeople_Edit(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, _, _ := b.People(t, 0)
	path := "/people/customers/" + itoa(c.ID)

	r, doc := b.console(t, "GET", path+"/edit", nil, true)
	if r.StatusCode != 200 {
		t.Fatalf("edit: %d", r.StatusCode)
	}
	if v, _ := doc.Find(sel("customer-edit-name")).Attr("value"); v != "Caitlin" {
		t.Errorf("edit form holds %q", v)
	}

	r, doc = b.console(t, "POST", path, url.Values{"name": {"Caitlin"}, "phone": {"+31 6 CALL"}}, true)
	if r.StatusCode != 422 || !strings.Contains(doc.Find(sel("customer-edit-phone-error")).Text(), "may contain only digits") {
		t.Fatalf("invalid edit: %d %q", r.StatusCode, doc.Find(sel("customer-edit-phone-error")).Text())
	}
	if v, _ := doc.Find(sel("customer-edit-phone")).Attr("value"); v != "+31 6 CALL" {
		t.Errorf("edit form lost what was typed: %q", v)
	}

	r, doc = b.console(t, "POST", path, url.Values{"name": {"Caitlin B"}, "phone": {"0633333333"}}, true)
	if r.StatusCode != 200 || doc.Find(sel("customer-row")).Length() != 1 || doc.Find(sel("customer-edit-row")).Length() != 0 {
		t.Fatalf("save: %d", r.StatusCode)
	}
	if got := doc.Find(sel("customer-name")).Text() + " " + doc.Find(sel("customer-phone")).Text(); got != "Caitlin B +31 6 33333333" {
		t.Errorf("saved row shows %q", got)
	}
	got, err := b.Rides.Person(t.Context(), ride.RoleCustomer, c.ID)
	if err != nil || got.Name != "Caitlin B" || got.Phone != "+31633333333" {
		t.Errorf("stored %+v, %v", got, err)
	}

	_, doc = b.console(t, "GET", path, nil, true)
	if doc.Find(sel("customer-row")).Length() != 1 {
		t.Error("cancel did not bring the row back")
	}
	if r, _ := b.console(t, "GET", "/people/customers/999999/edit", nil, true); r.StatusCode != 404 {
		t.Errorf("editing a missing customer: %d", r.StatusCode)
	}
}

func TestPeople_EditDuplicatePhone(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, _, _ := b.People(t, 0)
	b.Person(t, ride.RoleCustomer, "Ann", "+31612345678")
	r, doc := b.console(t, "POST", "/people/customers/"+itoa(c.ID), url.Values{"name": {"Caitlin"}, "phone": {"+31612345678"}}, true)
	if r.StatusCode != 409 || !strings.Contains(doc.Find(sel("customer-edit-phone-error")).Text(), "already exists") {
		t.Errorf("duplicate on edit: %d %q", r.StatusCode, doc.Find(sel("customer-edit-phone-error")).Text())
	}
}

func TestPeople_Delete(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	c, d, _ := b.People(t, 1)
	active, err := b.CreateRide(t, c, d)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(t *testing.T, path, want string) {
		t.Helper()
		r, doc := b.console(t, "POST", path, url.Values{}, true)
		if r.StatusCode != 409 {
			t.Fatalf("delete: %d, want 409", r.StatusCode)
		}
		if got := doc.Find(sel("person-error")).Text(); !strings.Contains(got, want) {
			t.Errorf("refusal %q, want %q", got, want)
		}
	}
	customerPath := "/people/customers/" + itoa(c.ID) + "/delete"
	refused(t, customerPath, "Caitlin has an active ride (#"+itoa(active.ID)+")")
	refused(t, "/people/drivers/"+itoa(d.ID)+"/delete", "Dave has an active ride")

	if _, err := b.Rides.EndRide(ctx, active.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	refused(t, customerPath, "Caitlin has a ride in its grace period (#"+itoa(active.ID)+", routing until 2 May 12:00)")
	b.Clock.Advance(25 * time.Hour)
	refused(t, customerPath, "Caitlin has ride history (#"+itoa(active.ID)+")")
	if n := b.countPeople(t, ride.RoleCustomer); n != 1 {
		t.Errorf("%d customers after refusals", n)
	}

	// Someone without rides goes, and their row with them.
	other := b.Person(t, ride.RoleDriver, "Eve", "+31644444444")
	r, doc := b.console(t, "POST", "/people/drivers/"+itoa(other.ID)+"/delete", url.Values{}, true)
	if r.StatusCode != 200 || doc.Find("tr").Length() != 0 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if n := b.countPeople(t, ride.RoleDriver); n != 1 {
		t.Errorf("%d drivers after deleting Eve, want 1", n)
	}
}

func TestPeople_NamesAsText(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const name = "<script>alert(1)</script>"
	r, doc := b.console(t, "POST", "/people/customers", url.Values{"name": {name}, "phone": {"+31612345678"}}, true)
	if r.StatusCode != 200 || doc.Find(sel("customer-name")).Text() != name {
		t.Fatalf("add: %d", r.StatusCode)
	}
	req := b.signIn(t, httptest.NewRequest("GET", "/people", nil))
	body, err := io.ReadAll(b.do(t, req).Body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), "<script>alert(1)") || !strings.Contains(string(body), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("a name reached the page as markup")
	}
}
