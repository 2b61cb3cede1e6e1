package oauth

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// SetNoStore sets the headers RFC 6749 §5.1 requires on every response that
// carries credentials, and that TOK-06 extends to every token-endpoint answer.
func SetNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// WriteJSON writes v as a no-store JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value handed here is a plain struct; failing is a bug.
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	writeJSON(w, status, body)
}

// writeJSON writes body as a no-store JSON response with the given status.
// The headers are those of SetNoStore and a content type, set as
// http.Header.Set would, their values sharing one allocation.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	v := [...]string{"no-store", "no-cache", "application/json;charset=UTF-8"}
	h, vs := w.Header(), v[:]
	h["Cache-Control"] = vs[0:1:1]
	h["Pragma"] = vs[1:2:2]
	h["Content-Type"] = vs[2:3:3]
	w.WriteHeader(status)
	w.Write(body)
}

// errorBody is the RFC 6749 §5.2 error response.
type errorBody struct {
	Error       ErrorCode `json:"error"`
	Description string    `json:"error_description,omitempty"`
}

// WriteError renders err as an RFC 6749 §5.2 JSON error. The cause of a
// server-side failure is logged with the request's method and path, and never
// sent to the client.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := AsError(err)
	if e.Status >= 500 {
		logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", e.Status), slog.Any("error", e.Cause))
	}
	if e.Challenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="grantd", charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	writeJSON(w, e.Status, errorJSON(e.Code, e.Description))
}

// errorJSON returns the JSON encoding of errorBody{code, description}, as
// json.Marshal would, built directly when neither string needs escaping:
// always, for the codes and descriptions grantd sends.
func errorJSON(code ErrorCode, description string) []byte {
	o := newObject(len(`{"error":"","error_description":""}`) + len(code) + len(description))
	o.str("error", string(code))
	o.strOmitEmpty("error_description", description)
	if b, ok := o.end(); ok {
		return b
	}
	body, err := json.Marshal(errorBody{Error: code, Description: description})
	if err != nil { // strings always encode; failing is a bug
		return []byte(`{"error":"server_error"}`)
	}
	return body
}
