package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLayout_UnsignedWebhooksBanner: with unsigned live webhooks allowed,
// every console page warns the signed-in operator; no one else sees it.
func TestLayout_UnsignedWebhooksBanner(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	banner := func(r *http.Response) string {
		t.Helper()
		doc := parseHTML(t, r)
		sel := doc.Find(`[data-testid="unsigned-webhooks"]`)
		if sel.Length() == 0 {
			return ""
		}
		if role, _ := sel.Attr("role"); role != "alert" || !sel.HasClass("alert-error") {
			t.Errorf("the banner is not a red alert: role %q, class %q", role, sel.AttrOr("class", ""))
		}
		return strings.Join(strings.Fields(sel.Text()), " ")
	}
	pages := []string{"/", "/rides", "/people", "/numbers", "/sends", "/simulator", "/no/such/page"}
	b.srv.UnsignedWebhooks = false
	if got := banner(b.do(t, b.signIn(t, httptest.NewRequest("GET", "/", nil)))); got != "" {
		t.Errorf("banner without the setting: %q", got)
	}
	b.srv.UnsignedWebhooks = true
	for _, page := range pages {
		r := b.do(t, b.signIn(t, httptest.NewRequest("GET", page, nil)))
		got := banner(r)
		for _, part := range []string{"MessageBird webhooks are accepted without a signature", "unmask", "MESSAGEBIRD_SIGNING_KEY"} {
			if !strings.Contains(got, part) {
				t.Errorf("%s (%d): banner %q lacks %q", page, r.StatusCode, got, part)
			}
		}
	}
	// Not for strangers: the login page and their error pages.
	for _, req := range []*http.Request{httptest.NewRequest("GET", "/login", nil), httptest.NewRequest("PUT", "/webhook", nil)} {
		if got := banner(b.do(t, req)); got != "" {
			t.Errorf("%s %s shows the banner to a stranger: %q", req.Method, req.URL, got)
		}
	}
}
