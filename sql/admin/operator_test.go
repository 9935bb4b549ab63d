package admin_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"birdcar/sql/admin"
	"birdcar/sql/db"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

const testPassword = "correct horse battery"

// newService is an admin.Service on a test transaction, with cheap
// hashing, whose first admin "admin" has testPassword (not fixed).
func newService(t *testing.T) *admin.Service {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return &admin.Service{DB: dbtest.Tx(t), User: testAdminUser, PasswordHash: hash, Cost: bcrypt.MinCost}
}

// as is a context whose changes are op's.
func as(t *testing.T, op admin.Operator) context.Context {
	return ride.WithActor(t.Context(), ride.Actor{Kind: ride.ActorOperator, Name: op.Name, Login: op.Username})
}

func mustAdd(t *testing.T, s *admin.Service, ctx context.Context, username string, role admin.Role) admin.Operator {
	t.Helper()
	op, err := s.AddOperator(ctx, admin.NewOperator{Name: "Op " + username, Username: username, Role: role, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func TestRole_AtLeast(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		r, min admin.Role
		want   bool
	}{
		{admin.RoleViewer, admin.RoleViewer, true},
		{admin.RoleViewer, admin.RoleDispatcher, false},
		{admin.RoleDispatcher, admin.RoleDispatcher, true},
		{admin.RoleDispatcher, admin.RoleAdmin, false},
		{admin.RoleAdmin, admin.RoleViewer, true},
		{"", admin.RoleViewer, false},
		{"root", admin.RoleViewer, false},
	} {
		if got := tt.r.AtLeast(tt.min); got != tt.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tt.r, tt.min, got, tt.want)
		}
	}
	if _, err := admin.ParseRole("Dispatcher "); err != nil {
		t.Errorf("ParseRole: %v", err)
	}
	if _, err := admin.ParseRole("owner"); ride.ErrorCode(err) != ride.CodeInvalid {
		t.Errorf("ParseRole(owner): %v, want invalid", err)
	}
}

func TestLogin_OperatorsByUsernameAnyCase(t *testing.T) {
	t.Parallel()
	s := newService(t)
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil || first.Role != admin.RoleAdmin || first.Username != testAdminUser {
		t.Fatalf("first admin %+v, %v", first, err)
	}
	dana := mustAdd(t, s, as(t, first), "Dana", admin.RoleDispatcher)

	for _, tt := range []struct {
		name, user, password string
		ok                   bool
	}{
		{"the first admin", "admin", testPassword, true},
		{"an added operator", "Dana", testPassword, true},
		{"the user name in another case", "DANA", testPassword, true},
		{"a wrong password", "dana", testPassword + "!", false},
		{"an unknown user", "nobody", testPassword, false},
		{"an empty user", "", testPassword, false},
	} {
		op, ok, err := s.Login(t.Context(), tt.user, tt.password)
		if err != nil || ok != tt.ok {
			t.Errorf("%s: ok %v, %v; want %v", tt.name, ok, err, tt.ok)
		}
		if ok && tt.user == "DANA" && op.ID != dana.ID {
			t.Errorf("%s: logged in as %+v", tt.name, op)
		}
	}
	if _, err := s.AddOperator(as(t, first), admin.NewOperator{Name: "Twin", Username: "dAnA", Role: admin.RoleViewer, Password: testPassword}); ride.ErrorCode(err) != ride.CodeDuplicateUsername {
		t.Errorf("a user name taken in another case: %v, want duplicate_username", err)
	}
	for _, in := range []admin.NewOperator{
		{Name: "", Username: "x", Role: admin.RoleViewer, Password: testPassword},
		{Name: "X", Username: "has space", Role: admin.RoleViewer, Password: testPassword},
		{Name: "X", Username: "x", Role: "owner", Password: testPassword},
		{Name: "X", Username: "x", Role: admin.RoleViewer, Password: "short"},
	} {
		if _, err := s.AddOperator(as(t, first), in); ride.ErrorCode(err) != ride.CodeInvalid {
			t.Errorf("AddOperator(%+v): %v, want invalid", in, err)
		}
	}
}

func TestLogin_FirstAdminAddedOnFirstLogin(t *testing.T) {
	t.Parallel()
	s := newService(t)
	op, ok, err := s.Login(t.Context(), "ADMIN", testPassword)
	if err != nil || !ok || op.Role != admin.RoleAdmin {
		t.Fatalf("first login of the first admin: %+v, %v, %v", op, ok, err)
	}
	if n := dbtest.Rows(t, s.DB, "operators"); n != 1 {
		t.Errorf("%d operators, want 1", n)
	}
}

func TestFirstAdmin_FixedPasswordIsAuthoritativeAndNotStored(t *testing.T) {
	t.Parallel()
	s := newService(t)
	s.PasswordFixed = true
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	row, err := db.New(s.DB).OperatorGet(t.Context(), first.ID)
	if err != nil || len(row.PasswordHash) != 0 {
		t.Errorf("a fixed password was stored: %x, %v", row.PasswordHash, err)
	}
	if _, ok, _ := s.Login(t.Context(), "admin", testPassword); !ok {
		t.Error("the fixed password does not let the first admin in")
	}
	if _, err := s.ChangePassword(as(t, first), first.ID, testPassword, "another long password", "another long password"); ride.ErrorCode(err) != ride.CodeForbidden {
		t.Errorf("changing a fixed password: %v, want forbidden", err)
	}
	// Demoted and disabled by someone else, a restart makes them an
	// enabled admin again: ADMIN_PASSWORD is the way back in.
	ann := mustAdd(t, s, as(t, first), "ann", admin.RoleAdmin)
	if _, err := s.SetRole(as(t, ann), first.ID, admin.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDisabled(as(t, ann), first.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Login(t.Context(), "admin", testPassword); ok {
		t.Error("a disabled first admin logged in")
	}
	again, err := s.EnsureFirstAdmin(t.Context())
	if err != nil || again.Role != admin.RoleAdmin || again.Disabled {
		t.Errorf("after a restart: %+v, %v; want an enabled admin", again, err)
	}
}

func TestFirstAdmin_GeneratedPasswordKeepsTheirChange(t *testing.T) {
	t.Parallel()
	s := newService(t)
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const changed = "a password of my own"
	if _, err := s.ChangePassword(as(t, first), first.ID, "wrong current", changed, changed); ride.ErrorCode(err) != ride.CodeInvalid {
		t.Fatalf("change with a wrong current password: %v, want invalid", err)
	}
	stolen, err := s.StartSession(t.Context(), first) // a session someone else holds
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := s.ChangePassword(as(t, first), first.ID, testPassword, changed, changed)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Session(t.Context(), stolen); ok {
		t.Error("a session started before the change goes on after it")
	}
	if _, ok, _ := s.Session(t.Context(), fresh); !ok {
		t.Error("the session ChangePassword returns does not work")
	}
	if _, err := s.EnsureFirstAdmin(t.Context()); err != nil { // a restart
		t.Fatal(err)
	}
	if _, ok, _ := s.Login(t.Context(), "admin", testPassword); ok {
		t.Error("the old password still works")
	}
	if _, ok, _ := s.Login(t.Context(), "admin", changed); !ok {
		t.Error("the changed password does not work after a restart")
	}
}

func TestSetDisabled_EndsSessionsAtOnce(t *testing.T) {
	t.Parallel()
	s := newService(t)
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	vic := mustAdd(t, s, as(t, first), "vic", admin.RoleViewer)
	token, err := s.StartSession(t.Context(), vic)
	if err != nil {
		t.Fatal(err)
	}
	sess, ok, err := s.Session(t.Context(), token)
	if err != nil || !ok || sess.Role != admin.RoleViewer || sess.Name != "Op vic" || sess.OperatorID != vic.ID {
		t.Fatalf("session %+v, %v, %v", sess, ok, err)
	}
	if _, err := s.SetDisabled(as(t, first), vic.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Session(t.Context(), token); ok || err != nil {
		t.Errorf("a disabled operator's session lives: %v, %v", ok, err)
	}
	if n := dbtest.Rows(t, s.DB, "admin_sessions"); n != 0 {
		t.Errorf("%d sessions left, want none", n)
	}
	if _, ok, _ := s.Login(t.Context(), "vic", testPassword); ok {
		t.Error("a disabled operator logged in")
	}
	if _, err := s.SetDisabled(as(t, first), vic.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Login(t.Context(), "vic", testPassword); !ok {
		t.Error("an enabled operator cannot log in")
	}

	// The log says who did it.
	entries, _, err := (&ride.Service{DB: s.DB, Clock: time.Now}).AuditLog(t.Context(), ride.AuditFilter{Action: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" by "+e.Actor.Login+": "+e.Detail)
	}
	want := []string{"operator.enable by admin: Op vic (vic)", "operator.disable by admin: Op vic (vic)", "operator.add by admin: Op vic (vic) as viewer"}
	if len(got) != len(want) {
		t.Fatalf("audit %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("audit[%d] %q, want %q", i, got[i], want[i])
		}
	}
}

func TestOperators_LastAdminAndSelfStay(t *testing.T) {
	t.Parallel()
	s := newService(t)
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dana := mustAdd(t, s, as(t, first), "dana", admin.RoleDispatcher)
	if _, err := s.SetRole(as(t, dana), first.ID, admin.RoleViewer); ride.ErrorCode(err) != ride.CodeLastAdmin {
		t.Errorf("demoting the last admin: %v, want last_admin", err)
	}
	if _, err := s.SetDisabled(as(t, first), first.ID, true); ride.ErrorCode(err) != ride.CodeForbidden {
		t.Errorf("disabling oneself: %v, want forbidden", err)
	}
	if _, err := s.SetRole(as(t, first), first.ID, admin.RoleViewer); ride.ErrorCode(err) != ride.CodeForbidden {
		t.Errorf("demoting oneself: %v, want forbidden", err)
	}
	if _, err := s.SetRole(as(t, first), dana.ID, admin.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if op, err := s.SetRole(as(t, dana), first.ID, admin.RoleViewer); err != nil || op.Role != admin.RoleViewer {
		t.Errorf("demoting an admin with another left: %+v, %v", op, err)
	}
	if _, err := s.SetRole(as(t, first), 999999, admin.RoleViewer); ride.ErrorCode(err) != ride.CodeOperatorNotFound {
		t.Errorf("an unknown operator: %v", err)
	}
}

func TestTokens_NamedHashedRevocable(t *testing.T) {
	t.Parallel()
	s := newService(t)
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx := as(t, first)
	tok, secret, err := s.CreateToken(ctx, "acme backend")
	if err != nil {
		t.Fatal(err)
	}
	if tok.CreatedBy != first.Name || len(secret) < 40 {
		t.Errorf("token %+v, secret %q", tok, secret)
	}
	if _, _, err := s.CreateToken(ctx, "ACME Backend"); ride.ErrorCode(err) != ride.CodeDuplicateTokenName {
		t.Errorf("a name taken: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, "API_TOKENS #1"); ride.ErrorCode(err) != ride.CodeInvalid {
		t.Errorf("an env token's name: %v", err)
	}
	env := []string{"env-token-one", "env-token-two"}
	for _, tt := range []struct {
		presented, name string
		ok              bool
	}{
		{secret, "acme backend", true},
		{"env-token-two", "API_TOKENS #2", true},
		{"env-token", "", false},
		{secret + "x", "", false},
		{"", "", false},
	} {
		got, ok, err := s.Token(t.Context(), env, tt.presented)
		if err != nil || ok != tt.ok || got.Name != tt.name || (ok && got.Actor().Kind != ride.ActorAPI) {
			t.Errorf("Token(%q) = %+v, %v, %v; want %q", tt.presented, got, ok, err, tt.name)
		}
		if ok && len(got.Scope) != 32 {
			t.Errorf("scope %q", got.Scope)
		}
	}
	if live, err := s.HasTokens(t.Context()); !live || err != nil {
		t.Errorf("HasTokens: %v, %v", live, err)
	}
	if got, err := s.LiveToken(t.Context(), tok.ID); err != nil || got.Name != "acme backend" {
		t.Errorf("LiveToken: %+v, %v", got, err)
	}
	if _, err := s.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LiveToken(t.Context(), tok.ID); ride.ErrorCode(err) != ride.CodeTokenNotFound {
		t.Errorf("LiveToken of a revoked token: %v", err)
	}
	if _, ok, _ := s.Token(t.Context(), env, secret); ok {
		t.Error("a revoked token still works")
	}
	if _, err := s.RevokeToken(ctx, tok.ID); ride.ErrorCode(err) != ride.CodeTokenNotFound {
		t.Errorf("revoking twice: %v", err)
	}
	if live, _ := s.HasTokens(t.Context()); live {
		t.Error("HasTokens after revoking the only one")
	}
	var hashes int64
	if err := s.DB.QueryRow(t.Context(), "SELECT count(*) FROM api_tokens WHERE position($1::bytea in token_hash) > 0", []byte(secret)).Scan(&hashes); err != nil || hashes != 0 {
		t.Errorf("the token is stored as is (%d, %v)", hashes, err)
	}
}

// TestOperators_TwoAdminsCannotDemoteEachOther: the only two admins, each
// demoting the other at the same moment, leave one admin, every time.
func TestOperators_TwoAdminsCannotDemoteEachOther(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	s := &admin.Service{DB: pool, Cost: bcrypt.MinCost}
	for i := range 20 {
		a := mustAdd(t, s, t.Context(), fmt.Sprintf("a%d", i), admin.RoleAdmin)
		b := mustAdd(t, s, t.Context(), fmt.Sprintf("b%d", i), admin.RoleAdmin)
		// The two are the only enabled admins.
		if _, err := pool.Exec(t.Context(), `UPDATE operators SET disabled = true WHERE id NOT IN ($1, $2)`, a.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = s.SetRole(as(t, a), b.ID, admin.RoleViewer) })
		wg.Go(func() { _, _ = s.SetRole(as(t, b), a.ID, admin.RoleViewer) })
		wg.Wait()
		var admins int
		if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM operators WHERE role = 'admin' AND NOT disabled`).Scan(&admins); err != nil {
			t.Fatal(err)
		}
		if admins != 1 {
			t.Fatalf("round %d: %d enabled admins after two demoted each other, want 1", i, admins)
		}
	}
}

// fieldsOf is the fields an error reports, as FieldErrors has them.
func fieldsOf(err error) map[string]string {
	if e := ride.AsError(err); e != nil {
		return e.FieldErrors()
	}
	return nil
}

func TestAddOperator_EveryFieldAtFaultAtOnce(t *testing.T) {
	t.Parallel()
	s := newService(t)
	_, err := s.AddOperator(t.Context(), admin.NewOperator{Name: " ", Username: "no spaces", Role: "boss", Password: "short"})
	got := fieldsOf(err)
	for _, f := range []string{"name", "username", "role", "password"} {
		if got[f] == "" {
			t.Errorf("no error for %s: %v", f, err)
		}
	}
	if ride.ErrorCode(err) != ride.CodeInvalid || len(got) != 4 {
		t.Errorf("%v: %d fields, want 4", err, len(got))
	}
	if n := dbtest.Rows(t, s.DB, "operators"); n != 0 {
		t.Errorf("%d operators added", n)
	}
}

func TestChangePassword_EveryFieldAtFaultAtOnceAndNothingChanged(t *testing.T) {
	t.Parallel()
	s := newService(t)
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ChangePassword(as(t, first), first.ID, "wrong current", "short", "shorter")
	got := fieldsOf(err)
	for _, f := range []string{"current_password", "new_password", "confirm"} {
		if got[f] == "" {
			t.Errorf("no error for %s: %v", f, err)
		}
	}
	// A good new password typed twice differently, and no current one.
	_, err = s.ChangePassword(as(t, first), first.ID, "", "a long new password", "a long new passwore")
	if got := fieldsOf(err); got["current_password"] == "" || got["confirm"] == "" || got["new_password"] != "" {
		t.Errorf("empty current, confirmation differs: %v", got)
	}
	if _, ok, _ := s.Login(t.Context(), "admin", testPassword); !ok {
		t.Error("a refused change changed the password")
	}
	if s.PasswordFixedFor("admin") {
		t.Error("a generated password is reported fixed")
	}
	s.PasswordFixed = true
	if !s.PasswordFixedFor("ADMIN") || s.PasswordFixedFor("ann") {
		t.Error("PasswordFixedFor does not name the first admin alone")
	}
	// The fixed password is said first, whatever else is wrong.
	if _, err := s.ChangePassword(as(t, first), first.ID, "", "x", "y"); ride.ErrorCode(err) != ride.CodeForbidden {
		t.Errorf("fixed password with bad fields: %v, want forbidden", err)
	}
}

func TestOperator_ByID(t *testing.T) {
	t.Parallel()
	s := newService(t)
	first, err := s.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if op, err := s.Operator(t.Context(), first.ID); err != nil || op.Username != "admin" {
		t.Errorf("Operator: %+v, %v", op, err)
	}
	if _, err := s.Operator(t.Context(), first.ID+1000); ride.ErrorCode(err) != ride.CodeOperatorNotFound {
		t.Errorf("a missing operator: %v", err)
	}
}
