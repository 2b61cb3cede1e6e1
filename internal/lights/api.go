package lights

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
)

// Scopes the API requires.
const (
	ScopeRead  = "lights:read"
	ScopeWrite = "lights:write"
)

// API serves lightsapi's REST API.
type API struct {
	Store *Store
	// Guard authorizes requests with grantd's access tokens.
	Guard *rs.Guard
	// Queued is told when a state change queued webhook deliveries.
	Queued func()
	Now    func() time.Time
	Logger *slog.Logger
}

// Mount registers the API's routes on mux.
func (a *API) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/bulbs", a.listBulbs)
	mux.HandleFunc("GET /v1/bulbs/{id}", a.getBulb)
	mux.HandleFunc("POST /v1/bulbs/{id}/commands", a.command)
	mux.HandleFunc("GET /v1/webhooks", a.listWebhooks)
	mux.HandleFunc("POST /v1/webhooks", a.putWebhook)
	mux.HandleFunc("DELETE /v1/webhooks/{id}", a.deleteWebhook)
}

func (a *API) listBulbs(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Guard.Authorize(w, r, ScopeRead)
	if !ok {
		return
	}
	bulbs, err := a.Store.Bulbs(r.Context(), c.Subject)
	a.reply(w, r, http.StatusOK, lightsapi.BulbList{Bulbs: bulbs}, err)
}

func (a *API) getBulb(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Guard.Authorize(w, r, ScopeRead)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !validID(id) {
		a.reply(w, r, 0, nil, ErrNotFound)
		return
	}
	b, err := a.Store.Bulb(r.Context(), c.Subject, id)
	a.reply(w, r, http.StatusOK, b, err)
}

func (a *API) command(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Guard.Authorize(w, r, ScopeWrite)
	if !ok {
		return
	}
	var cmd lightsapi.Command
	if err := decode(r, &cmd); err != nil {
		a.reply(w, r, 0, nil, err)
		return
	}
	b, err := a.Store.Apply(r.Context(), c.Subject, r.PathValue("id"), cmd, a.Now())
	if err == nil && a.Queued != nil {
		a.Queued()
	}
	a.reply(w, r, http.StatusOK, b, err)
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Guard.Authorize(w, r, ScopeRead)
	if !ok {
		return
	}
	hooks, err := a.Store.Webhooks(r.Context(), c.Subject)
	a.reply(w, r, http.StatusOK, lightsapi.WebhookList{Webhooks: hooks}, err)
}

func (a *API) putWebhook(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Guard.Authorize(w, r, ScopeWrite)
	if !ok {
		return
	}
	var hook lightsapi.Webhook
	if err := decode(r, &hook); err != nil {
		a.reply(w, r, 0, nil, err)
		return
	}
	u, err := url.Parse(hook.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(hook.URL) > 2048 {
		a.reply(w, r, 0, nil, badRequest("url must be an absolute http(s) URL"))
		return
	}
	if len(hook.Secret) < lightsapi.MinSecretBytes || len(hook.Secret) > 256 {
		a.reply(w, r, 0, nil, badRequest("secret must be 16-256 bytes"))
		return
	}
	saved, err := a.Store.PutWebhook(r.Context(), c.Subject, hook.URL, hook.Secret, a.Now())
	a.reply(w, r, http.StatusCreated, saved, err)
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Guard.Authorize(w, r, ScopeWrite)
	if !ok {
		return
	}
	err := a.Store.DeleteWebhook(r.Context(), c.Subject, r.PathValue("id"))
	a.reply(w, r, http.StatusNoContent, nil, err)
}

// requestError is a client's mistake, answered 400 with its text.
type requestError string

func (e requestError) Error() string { return string(e) }

func badRequest(msg string) error { return requestError(msg) }

// decode reads a JSON body of at most 16 KiB into v, refusing unknown
// fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body must be one JSON object of the documented shape")
	}
	return nil
}

// reply writes v with status, or the answer err calls for: 404 for
// ErrNotFound, 400 for a bad command or request, else 500 (logged, never
// shown).
func (a *API) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	var re requestError
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		status, v = http.StatusNotFound, lightsapi.Error{Code: "not_found", Description: "No such bulb or webhook."}
	case errors.Is(err, ErrBadCommand):
		status, v = http.StatusBadRequest, lightsapi.Error{Code: "invalid_command", Description: err.Error()}
	case errors.As(err, &re):
		status, v = http.StatusBadRequest, lightsapi.Error{Code: "invalid_request", Description: re.Error()}
	default:
		a.Logger.ErrorContext(r.Context(), "lights API", "path", r.URL.Path, "err", err)
		status, v = http.StatusInternalServerError, lightsapi.Error{Code: "server_error"}
	}
	w.Header().Set("Cache-Control", "no-store")
	if v == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
