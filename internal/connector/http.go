package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
)

// Revoker revokes tokens at grantd (RFC 7009) as a confidential client.
type Revoker struct {
	Endpoint     string // grantd's revocation_endpoint
	ClientID     string
	ClientSecret string
	HTTPClient   *http.Client
}

// Revoke revokes an access token. It succeeds on grantd's 200, which also
// answers a token that was already dead.
func (r *Revoker) Revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(r.ClientID), url.QueryEscape(r.ClientSecret))
	hc := r.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: status %d", resp.StatusCode)
	}
	return nil
}

// Paths the HTTP mode serves.
const (
	InvokePath  = "/invoke"
	WebhookPath = "/lights-webhook"
)

// maxBody bounds what the HTTP mode reads of a request.
const maxBody = 256 << 10

// Mount registers the HTTP mode: POST /invoke takes the same JSON as the
// Lambda handler and answers the Response (always HTTP 200: the outcome is
// the responseCode, as for a Lambda invocation); POST /lights-webhook
// takes lightsd's signed deliveries.
func (c *Connector) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+InvokePath, func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		resp := respond(http.StatusBadRequest, "The request body cannot be read.")
		if err == nil {
			resp = c.Handle(r.Context(), raw)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
	mux.HandleFunc("POST "+WebhookPath, c.serveWebhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
}

// webhookTolerance is how old a signed delivery may be.
const webhookTolerance = 5 * time.Minute

// serveWebhook turns a lightsd delivery into a DEVICE_EVENT. A delivery
// that cannot be passed on gets 502, so lightsd retries it.
func (c *Connector) serveWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	err = lightsapi.VerifySignature([]byte(c.WebhookSecret), r.Header.Get(lightsapi.SignatureHeader), body, c.Now(), webhookTolerance)
	if c.WebhookSecret == "" || err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev lightsapi.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type != lightsapi.EventBulbState || ev.Owner == "" {
		http.Error(w, "not a bulb state event", http.StatusBadRequest)
		return
	}
	state := State(ev.Bulb)
	out := Event{Operation: EventDeviceEvent, OperationVersion: "1.0", StatusCode: http.StatusOK, UserID: ev.Owner,
		ConnectorDeviceID: ev.Bulb.ID, MatterEndpoint: &state}
	ctx, cancel := context.WithTimeout(r.Context(), c.budget())
	defer cancel()
	if err := c.Events.Send(ctx, c.ConnectorID, out); err != nil {
		c.Logger.ErrorContext(ctx, "pass on a lightsd event", "event", ev.ID, "err", err)
		http.Error(w, "cannot pass the event on", http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Tokens checks a token locally when it is a JWT and by introspection
// otherwise: grantd's access tokens are JWTs, and an opaque token can only
// be judged by its issuer. Either may be nil: then such tokens are invalid.
type Tokens struct {
	Local      rs.Checker
	Introspect rs.Checker
}

// Check implements rs.Checker.
func (t Tokens) Check(ctx context.Context, raw string) (rs.Claims, error) {
	c := t.Introspect
	if strings.Count(raw, ".") == 2 && t.Local != nil {
		c = t.Local
	}
	if c == nil {
		return rs.Claims{}, fmt.Errorf("%w: the access token is not a JWT", rs.ErrInvalidToken)
	}
	return c.Check(ctx, raw)
}
