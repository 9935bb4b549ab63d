package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// apiDoc is openapi.json, loaded and validated once.
var apiDoc = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(loader.Context, openapi3.EnableExamplesValidation())
})

// apiRouter finds a request's operation in the document. The document's
// server is relative; requests in tests go to httptest's example.com.
var apiRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := apiDoc()
	if err != nil {
		return nil, err
	}
	routed := *doc
	routed.Servers = openapi3.Servers{{URL: "http://example.com/api/v1"}}
	return gorillamux.NewRouter(&routed)
})

func init() {
	openapi3filter.RegisterBodyDecoder("application/problem+json", openapi3filter.JSONBodyDecoder)
}

// TestOpenAPI_Valid: the document is valid OpenAPI 3, examples included,
// and served without a token.
func TestOpenAPI_Valid(t *testing.T) {
	t.Parallel()
	if _, err := apiDoc(); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	b := setup(t, nil)
	req := httptest.NewRequest("GET", "/api/v1/openapi.json", nil)
	resp := b.do(t, req)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(body, openAPI) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/v1/openapi.json: %d %s, %d bytes; want 200 JSON, the document", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

// TestOpenAPI_EveryRouteDocumented: every API route the server registers
// is an operation of the document, and every operation is a route.
func TestOpenAPI_EveryRouteDocumented(t *testing.T) {
	t.Parallel()
	doc, err := apiDoc()
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, nil)
	registered := map[string]bool{}
	for _, r := range b.srv.App().GetRoutes(true) {
		path, ok := strings.CutPrefix(r.Path, "/api/v1/")
		if !ok || r.Method == "HEAD" || r.Method == "USE" || strings.Contains(path, "*") {
			continue
		}
		path = "/" + strings.ReplaceAll(path, ":id", "{id}")
		registered[r.Method+" "+path] = true
		if item := doc.Paths.Find(path); item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is served but not in openapi.json", r.Method, r.Path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] {
				t.Errorf("openapi.json documents %s /api/v1%s, which the server does not serve", method, path)
			}
		}
	}
}

// checkAPIAnswer fails t when an answer of /api/v1 does not conform to
// openapi.json: its status, headers and body for that operation, or a
// problem document for an address the API does not have.
func checkAPIAnswer(t *testing.T, req *http.Request, resp *http.Response) {
	t.Helper()
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	doc, err := apiDoc()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	router, err := apiRouter()
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		var v any
		refused := resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUnauthorized
		if !refused || json.Unmarshal(body, &v) != nil || doc.Components.Schemas["Problem"].Value.VisitJSON(v) != nil {
			t.Errorf("%s %s, not in openapi.json, answered %d %s; want a 401 or 404 problem", req.Method, req.URL, resp.StatusCode, body)
		}
		return
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 resp.StatusCode, Header: resp.Header, Options: opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		t.Errorf("%s %s answered %d %s, which openapi.json does not allow: %v", req.Method, req.URL, resp.StatusCode, body, err)
	}
}
