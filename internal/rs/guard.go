package rs

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Guard authorizes API requests with a Checker and answers refusals as RFC
// 6750 §3 says.
type Guard struct {
	Checker Checker
	// Realm names the protected API in challenges.
	Realm  string
	Logger *slog.Logger
}

// Authorize checks the request's bearer token and that it carries scope.
// On success it returns the claims and true; otherwise it has written the
// answer and returns false:
//
//   - no credentials: 401 with a bare challenge (RFC 6750 §3.1: no error
//     code when the request had no token);
//   - a token in the query or two tokens: 400 invalid_request (§2);
//   - an invalid token: 401 invalid_token;
//   - a valid token without scope: 403 insufficient_scope, scope named;
//   - the authorization server unreachable: 503 with Retry-After.
func (g *Guard) Authorize(w http.ResponseWriter, r *http.Request, scope string) (Claims, bool) {
	raw, err := bearerToken(r)
	if err != nil {
		g.refuse(w, http.StatusBadRequest, "invalid_request", err.Error(), "")
		return Claims{}, false
	}
	if raw == "" {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q", g.Realm))
		writeJSONError(w, http.StatusUnauthorized, "", "")
		return Claims{}, false
	}
	c, err := g.Checker.Check(r.Context(), raw)
	switch {
	case errors.Is(err, ErrInvalidToken):
		g.refuse(w, http.StatusUnauthorized, "invalid_token", Reason(err), "")
		return Claims{}, false
	case err != nil:
		g.Logger.ErrorContext(r.Context(), "cannot check access token", "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be checked now.")
		return Claims{}, false
	case !c.HasScope(scope):
		g.refuse(w, http.StatusForbidden, "insufficient_scope", "The access token lacks the scope "+scope+".", scope)
		return Claims{}, false
	}
	return c, true
}

// refuse writes an RFC 6750 §3 challenge with an error code, and the same
// error as a JSON body.
func (g *Guard) refuse(w http.ResponseWriter, status int, code, description, scope string) {
	ch := fmt.Sprintf("Bearer realm=%q, error=%q, error_description=%q", g.Realm, code, description)
	if scope != "" {
		ch += fmt.Sprintf(", scope=%q", scope)
	}
	w.Header().Set("WWW-Authenticate", ch)
	writeJSONError(w, status, code, description)
}

// requestError is a malformed request, described to the client in its
// words (the error_description of RFC 6750 §3.1).
type requestError string

func (e requestError) Error() string { return string(e) }

// bearerToken returns the token of an Authorization: Bearer header (RFC
// 6750 §2.1), "" when there is none. A token in the query (§2.3, which we
// do not accept: URLs are logged) or in a form body is refused.
func bearerToken(r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", requestError("Send the access token in the Authorization header.")
	}
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", nil
	}
	if len(h) > 1 {
		return "", requestError("Send one Authorization header.")
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", nil // another scheme: no bearer credentials
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", requestError("The Authorization header is malformed.")
	}
	return tok, nil
}

// writeJSONError writes {"error": code, "error_description": description},
// or an empty object when code is empty.
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body := map[string]string{}
	if code != "" {
		body["error"] = code
		body["error_description"] = description
	}
	json.NewEncoder(w).Encode(body)
}
