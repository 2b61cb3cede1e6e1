package introspect

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/store"
)

// Path is where Mount serves the endpoint.
const Path = "/introspect"

// Token type hints (RFC 7662 §2.1, RFC 7009 §4.1.2) and the token_type values
// of an active answer.
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"

	TypeBearer  = "Bearer"
	TypeRefresh = "refresh_token"
)

// Handler serves POST /introspect.
type Handler struct {
	Store   store.RefreshTokens
	Auth    *clientauth.Authenticator
	Checker *bearer.Checker
	// Limiter and Budget throttle token scanning per calling client: each
	// inactive answer spends one attempt (INT-05). A nil Limiter disables
	// throttling; with a Limiter, Budget must be positive.
	Limiter ratelimit.Limiter
	Budget  ratelimit.Budget
	// Now is the clock for refresh token expiry and budgets; it should be
	// the Checker's.
	Now    func() time.Time
	Logger *slog.Logger

	spent spentBudgets
}

// Response is an introspection response (RFC 7662 §2.2). Its zero value
// encodes as exactly {"active":false}.
type Response struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	ID        string `json:"jti,omitempty"`
}

// Mount registers the endpoint on mux. Every method reaches the handler, so
// that a GET gets the 405 of oauth.ParseForm with an OAuth error body.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(Path, h)
}

// ServeHTTP answers an introspection request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := h.serve(w, r)
	if err != nil {
		oauth.WriteError(w, r, h.Logger, err)
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (Response, error) {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return Response{}, err
	}
	caller, err := h.authenticate(r, f)
	if err != nil {
		return Response{}, err
	}
	raw := f.Get("token")
	if raw == "" {
		return Response{}, oauth.NewError(oauth.InvalidRequest, "The token parameter is missing.")
	}
	now := h.Now()
	if retry, spent := h.spent.check(caller.ID, now); spent {
		return Response{}, oauth.TooManyRequests(retry)
	}
	resp, err := h.lookup(r, caller, raw, f.Get("token_type_hint"))
	if err != nil {
		return Response{}, err
	}
	if !resp.Active {
		if err := h.spend(r, caller.ID, now); err != nil {
			return Response{}, err
		}
	}
	return resp, nil
}

// authenticate returns the calling client: a confidential client that
// authenticated (INT-01). What it may see is visible's to say (INT-02).
func (h *Handler) authenticate(r *http.Request, f oauth.Form) (store.Client, error) {
	caller, err := h.Auth.Authenticate(r.Context(), r, f)
	if err != nil {
		return store.Client{}, err
	}
	if caller.Public {
		return store.Client{}, oauth.NewError(oauth.InvalidClient, "Client authentication is required.")
	}
	return caller, nil
}

// visible reports whether caller may see a token issued to clientID for
// the audience aud (INT-02, INT-03). A client always sees the tokens issued
// to itself (RFC 7662 §4 leaves the policy to the server). Another client's
// token only a client allowed to introspect sees, and, when that client is
// bound to an audience, only a token for that audience: refresh tokens,
// never presented to a resource server (RFC 6749 §1.5), have none.
func visible(caller store.Client, clientID, aud string) bool {
	switch {
	case clientID == caller.ID:
		return true
	case !caller.Introspect:
		return false
	case caller.Audience != "":
		return aud == caller.Audience
	}
	return true
}
