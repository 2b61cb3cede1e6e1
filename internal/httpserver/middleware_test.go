package httpserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/discovery"
	"github.com/grantd/grantd/internal/requestid"
)

// TestRequestDeadline is REL-01's bound on a request: every request that
// may wait on the store gets the request deadline and its request id in
// its context, for the lines it logs; the documents served from memory get
// neither, and still get a request id.
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	var (
		deadline time.Time
		bounded  bool
		id       string
	)
	h := withLogging(slog.New(slog.DiscardHandler), nil, append(discovery.Paths(), livenessPath),
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			deadline, bounded = r.Context().Deadline()
			id = requestid.From(r.Context())
		}))
	for _, tc := range []struct {
		path    string
		bounded bool
	}{
		{"/token", true},
		{"/device", true},
		{"/readyz", true},
		{"/.well-known/jwks.json/x", true},
		{discovery.JWKSPath, false},
		{discovery.MetadataPath, false},
		{discovery.OIDCMetadataPath, false},
		{livenessPath, false},
	} {
		rec := httptest.NewRecorder()
		before := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if bounded != tc.bounded {
			t.Errorf("%s: deadline set = %v, want %v", tc.path, bounded, tc.bounded)
		}
		if bounded && (deadline.Before(before.Add(requestTimeout)) || deadline.After(time.Now().Add(requestTimeout))) {
			t.Errorf("%s: deadline %v, want %v after the request began", tc.path, deadline.Sub(before), requestTimeout)
		}
		if rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", tc.path)
		}
		if want := map[bool]string{true: rec.Header().Get("X-Request-Id")}[tc.bounded]; id != want {
			t.Errorf("%s: request id in the context %q, want %q", tc.path, id, want)
		}
	}
}
