package components

import "context"

type roleKey struct{}

// WithRole puts the signed-in operator's role ("admin", "dispatcher",
// "viewer") where templates find it, to hide what the role cannot use.
// The server enforces roles (web's roleRules); this is a courtesy.
func WithRole(ctx context.Context, role string) context.Context {
	return context.WithValue(ctx, roleKey{}, role)
}

// roleRank orders the roles; an unknown one ranks below all.
var roleRank = map[string]int{"viewer": 1, "dispatcher": 2, "admin": 3}

// Can reports whether the context's role is need or above; a page
// rendered without a role (tests of components alone) can do everything.
func Can(ctx context.Context, need string) bool {
	role, ok := ctx.Value(roleKey{}).(string)
	if !ok {
		return true
	}
	return roleRank[role] >= roleRank[need]
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
