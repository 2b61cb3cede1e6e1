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
	h := w.Header()
	SetNoStore(h)
	h.Set("Content-Type", "application/json;charset=UTF-8")
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
	WriteJSON(w, e.Status, errorBody{Error: e.Code, Description: e.Description})
}
