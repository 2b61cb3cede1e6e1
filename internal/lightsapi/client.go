package lightsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls lightsd's API.
type Client struct {
	// BaseURL is lightsd's URL, without /v1.
	BaseURL string
	// HTTPClient sends the requests; it may add the token itself (an
	// oauth2.Client). Nil means http.DefaultClient; bound its time with a
	// Timeout or the calls' contexts.
	HTTPClient *http.Client
	// Token, when set, is sent as the bearer token.
	Token string
}

// StatusError is an error answer of the API.
type StatusError struct {
	Status int
	Body   Error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("lightsd: %d %s: %s", e.Status, e.Body.Code, e.Body.Description)
}

// HTTPStatus returns the status of an API error answer in err, or 0.
func HTTPStatus(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// Bulbs returns the caller's bulbs.
func (c *Client) Bulbs(ctx context.Context) ([]Bulb, error) {
	var l BulbList
	err := c.do(ctx, http.MethodGet, "/v1/bulbs", nil, &l)
	return l.Bulbs, err
}

// Bulb returns one of the caller's bulbs.
func (c *Client) Bulb(ctx context.Context, id string) (Bulb, error) {
	var b Bulb
	err := c.do(ctx, http.MethodGet, "/v1/bulbs/"+url.PathEscape(id), nil, &b)
	return b, err
}

// Command sends cmd to one of the caller's bulbs and returns its new state.
func (c *Client) Command(ctx context.Context, id string, cmd Command) (Bulb, error) {
	var b Bulb
	err := c.do(ctx, http.MethodPost, "/v1/bulbs/"+url.PathEscape(id)+"/commands", cmd, &b)
	return b, err
}

// RegisterWebhook registers (or, for a URL already registered, updates)
// a receiver of the caller's bulbs' state changes.
func (c *Client) RegisterWebhook(ctx context.Context, hookURL, secret string) (Webhook, error) {
	var w Webhook
	err := c.do(ctx, http.MethodPost, "/v1/webhooks", Webhook{URL: hookURL, Secret: secret}, &w)
	return w, err
}

// Webhooks returns the caller's webhooks.
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var l WebhookList
	err := c.do(ctx, http.MethodGet, "/v1/webhooks", nil, &l)
	return l.Webhooks, err
}

// DeleteWebhook removes one of the caller's webhooks.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/webhooks/"+url.PathEscape(id), nil, nil)
}

// do sends a request with body (JSON, when not nil) and decodes a 2xx
// answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		se := &StatusError{Status: resp.StatusCode}
		dec.Decode(&se.Body)
		return se
	}
	if out == nil {
		return nil
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}
