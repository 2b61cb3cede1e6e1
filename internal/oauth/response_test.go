package oauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestErrorJSON: error bodies are what json.Marshal makes of errorBody.
func TestErrorJSON(t *testing.T) {
	for _, tc := range []struct {
		code ErrorCode
		desc string
	}{
		{AuthorizationPending, "The user has not yet decided."},
		{SlowDown, "Poll less often: the interval has grown by 5 seconds."},
		{InvalidRequest, ""},
		{InvalidRequest, `quote " backslash \ <tag> & é` + "\n\x00"},
		{ErrorCode("odd\u2028code"), "x"},
	} {
		want, err := json.Marshal(errorBody{Error: tc.code, Description: tc.desc})
		if err != nil {
			t.Fatal(err)
		}
		if got := errorJSON(tc.code, tc.desc); string(got) != string(want) {
			t.Errorf("errorJSON(%q, %q) = %s, want %s", tc.code, tc.desc, got, want)
		}
	}
}

// TestWriteError: the headers and body of an error response (RFC 6749
// §5.1–5.2).
func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	e := NewError(InvalidClient, "Client authentication failed.")
	e.Challenge = true
	WriteError(w, httptest.NewRequest(http.MethodPost, "/token", nil), nil, e)
	want := http.Header{
		"Cache-Control":    {"no-store"},
		"Pragma":           {"no-cache"},
		"Content-Type":     {"application/json;charset=UTF-8"},
		"Www-Authenticate": {`Basic realm="grantd", charset="UTF-8"`},
	}
	if w.Code != 401 || len(w.Header()) != len(want) {
		t.Fatalf("got %d %v, want 401 %v", w.Code, w.Header(), want)
	}
	for k, v := range want {
		if got := w.Header().Values(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if got, want := w.Body.String(), `{"error":"invalid_client","error_description":"Client authentication failed."}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
}
