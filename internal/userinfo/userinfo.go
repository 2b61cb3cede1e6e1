package userinfo

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/store"
)

// Path is where Mount serves the endpoint.
const Path = "/userinfo"

// The RFC 6750 §3.1 error codes this endpoint sends besides invalid_request.
const (
	InvalidToken      oauth.ErrorCode = "invalid_token"
	InsufficientScope oauth.ErrorCode = "insufficient_scope"
)

// Scopes that shape the answer (OpenID Connect Core §5.4).
const (
	ScopeOpenID  = "openid"
	ScopeProfile = "profile"
	ScopeEmail   = "email"
)

// Handler serves GET and POST /userinfo. It needs no clock of its own: the
// Checker's decides expiry.
type Handler struct {
	// Checker decides whether the token is active and names its user.
	Checker *bearer.Checker
	// Users is read for the claims of the email scope.
	Users store.Users
	// Audience, when set, is the only aud this endpoint accepts (JWT-13);
	// empty accepts any audience the Checker lets through.
	Audience string
	Logger   *slog.Logger
}

// Response is a UserInfo response (OpenID Connect Core §5.3.2).
type Response struct {
	Subject           string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
}

// Mount registers the endpoint on mux for GET and POST (OpenID Connect Core
// §5.3.1); other methods get the mux's 405.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET "+Path, h)
	mux.Handle("POST "+Path, h)
}

// ServeHTTP answers a UserInfo request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := h.serve(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (Response, error) {
	raw, err := accessToken(w, r)
	if err != nil {
		return Response{}, err
	}
	ctx := r.Context()
	c, err := h.Checker.Check(ctx, raw)
	if errors.Is(err, bearer.ErrInactive) {
		return Response{}, bearerError(InvalidToken, "The access token is not active.")
	}
	if err != nil {
		return Response{}, oauth.Unavailable(fmt.Errorf("check access token: %w", err))
	}
	if h.Audience != "" && c.Audience != h.Audience {
		return Response{}, bearerError(InvalidToken, "The access token is not active.")
	}
	scopes := strings.Fields(c.Scope)
	if !slices.Contains(scopes, ScopeOpenID) {
		return Response{}, bearerError(InsufficientScope, "The access token lacks the openid scope.")
	}
	resp := Response{Subject: c.Subject}
	if slices.Contains(scopes, ScopeProfile) {
		resp.PreferredUsername = c.Username
	}
	if slices.Contains(scopes, ScopeEmail) && h.Users != nil {
		u, err := h.Users.User(ctx, c.Subject)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Response{}, oauth.Unavailable(fmt.Errorf("load user for the email scope: %w", err))
		}
		if u.Email != "" {
			resp.Email, resp.EmailVerified = u.Email, new(u.EmailVerified)
		}
	}
	return resp, nil
}

// errNoToken reports a request with no access token at all.
var errNoToken = errors.New("userinfo: no access token")

// accessToken returns the request's access token: from the Authorization
// header (RFC 6750 §2.1) or, on a form-encoded POST, the access_token body
// parameter (§2.2), never both (§2), never the query string (§2.3 is not
// supported).
func accessToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", bearerError(oauth.InvalidRequest, "The access token must not be sent in the URI.")
	}
	fromHeader, err := headerToken(r)
	if err != nil {
		return "", err
	}
	fromBody, err := bodyToken(w, r)
	if err != nil {
		return "", err
	}
	switch {
	case fromHeader != "" && fromBody != "":
		return "", bearerError(oauth.InvalidRequest, "Send the access token in one place only.")
	case fromHeader != "":
		return fromHeader, nil
	case fromBody != "":
		return fromBody, nil
	}
	return "", errNoToken
}

// headerToken returns the token of an Authorization: Bearer header, or ""
// when the request has no bearer credentials. Other schemes are not bearer
// credentials.
func headerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", bearerError(oauth.InvalidRequest, "The Authorization header is repeated.")
	}
	scheme, tok, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", bearerError(oauth.InvalidRequest, "The Authorization header is malformed.")
	}
	return tok, nil
}

// bodyToken returns the access_token parameter of a form-encoded POST body,
// or "" when there is none.
func bodyToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.Method != http.MethodPost {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", nil
	}
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return "", err
	}
	if f.Has("access_token") && f.Get("access_token") == "" {
		return "", bearerError(oauth.InvalidRequest, "The access_token parameter is empty.")
	}
	return f.Get("access_token"), nil
}

// bearerError is an RFC 6750 §3.1 error with its status: 400 for
// invalid_request, 401 for invalid_token, 403 for insufficient_scope.
func bearerError(code oauth.ErrorCode, description string) *oauth.Error {
	e := oauth.NewError(code, description)
	switch code {
	case InvalidToken:
		e.Status = http.StatusUnauthorized
	case InsufficientScope:
		e.Status = http.StatusForbidden
	}
	return e
}

// writeError renders err with the WWW-Authenticate challenge RFC 6750 §3
// asks for: a bare one when no token was sent, one naming the error code
// otherwise. Server-side failures (503) carry no challenge: the token was not
// judged.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNoToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="grantd"`)
		oauth.SetNoStore(w.Header())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	e := oauth.AsError(err)
	if e.Status < http.StatusInternalServerError {
		challenge := `Bearer realm="grantd", error="` + string(e.Code) + `"`
		if e.Code == InsufficientScope {
			challenge += `, scope="` + ScopeOpenID + `"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	oauth.WriteError(w, r, h.Logger, e)
}
