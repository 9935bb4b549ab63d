package main

import (
	"bytes"
	"strings"
	"testing"

	"birdcar/sql/admin"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

func TestRun_OperatorAdd(t *testing.T) {
	t.Parallel()
	pool, dbURL := dbtest.FreshDB(t)
	env := []string{"DATABASE_URL=" + dbURL}

	// The password from stdin.
	var out bytes.Buffer
	err := runWithInput(t.Context(), []string{"operator", "add", "--username", "Dana", "--name", "Dana Dispatch", "--role", "dispatcher"},
		env, strings.NewReader("a long enough password\n"), &out)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "Added operator Dana (Dana Dispatch) as dispatcher.\n" {
		t.Errorf("printed %q", got)
	}
	svc := &admin.Service{DB: pool}
	op, ok, err := svc.Login(t.Context(), "dana", "a long enough password")
	if err != nil || !ok || op.Role != admin.RoleDispatcher || op.Name != "Dana Dispatch" {
		t.Fatalf("login as the added operator: %+v, %v, %v", op, ok, err)
	}
	// From the environment, stdin unread; the role defaults to viewer.
	out.Reset()
	err = runWithInput(t.Context(), []string{"operator", "add", "--username", "vera"},
		append(env, "OPERATOR_PASSWORD=another long password"), strings.NewReader("not this one\n"), &out)
	if err != nil {
		t.Fatal(err)
	}
	if op, ok, _ := svc.Login(t.Context(), "vera", "another long password"); !ok || op.Role != admin.RoleViewer {
		t.Errorf("vera: %+v, %v", op, ok)
	}
	// The audit log says who added them.
	entries, _, err := (&ride.Service{DB: pool}).AuditLog(t.Context(), ride.AuditFilter{Action: ride.AuditOperatorAdd})
	if err != nil || len(entries) != 2 || entries[0].Actor.Name != "birdcar operator add" || entries[0].Actor.Kind != ride.ActorSystem {
		t.Errorf("audit %+v, %v", entries, err)
	}

	for _, tt := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"taken user name", []string{"--username", "DANA"}, "a long enough password\n", "is taken"},
		{"no user name", []string{"--name", "X"}, "a long enough password\n", "--username is required"},
		{"unknown role", []string{"--username", "x", "--role", "root"}, "a long enough password\n", "want viewer, dispatcher or admin"},
		{"short password", []string{"--username", "x"}, "short\n", "at least 10 characters"},
		{"no password", []string{"--username", "x"}, "", "no password"},
		{"stray argument", []string{"--username", "x", "extra"}, "a long enough password\n", "bad arguments"},
	} {
		err := runWithInput(t.Context(), append([]string{"operator", "add"}, tt.args...), env, strings.NewReader(tt.stdin), &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	if err := runWithInput(t.Context(), []string{"operator", "remove"}, env, nil, &out); err == nil || !strings.Contains(err.Error(), "operator add") {
		t.Errorf("operator remove: %v, want the usage", err)
	}
}
