package components

import (
	"context"

	"birdcar/sql/admin"
)

type roleKey struct{}

// WithRole puts the signed-in operator's role where templates find it,
// to hide what the role cannot use. The server enforces roles (web's
// roleRules); this is a courtesy.
func WithRole(ctx context.Context, role admin.Role) context.Context {
	return context.WithValue(ctx, roleKey{}, role)
}

// Can reports whether the context's role is need or above; a page
// rendered without a role (tests of components alone) can do everything.
func Can(ctx context.Context, need admin.Role) bool {
	role, ok := ctx.Value(roleKey{}).(admin.Role)
	if !ok {
		return true
	}
	return role.AtLeast(need)
}

// navFor is the entries of the top bar the context's role may open.
func navFor(ctx context.Context) []navItem {
	var out []navItem
	for _, n := range nav {
		if n.role == "" || Can(ctx, n.role) {
			out = append(out, n)
		}
	}
	return out
}
