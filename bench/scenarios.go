package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grantd/grantd/bench/load"
)

// Error codes of RFC 6749 §5.2 and RFC 8628 §3.5 the scenarios expect.
const (
	authorizationPending = "authorization_pending"
	slowDown             = "slow_down"
	outcomeInactive      = "inactive"
)

// pollMargin is added to the interval between two polls of one code. The
// harness already waits from the moment the previous answer arrived, which
// is after the server stamped that poll; the margin absorbs clock reading
// skew between the two processes.
const pollMargin = 50 * time.Millisecond

// defaultInterval is RFC 8628 §3.2's default when a response has none.
const defaultInterval = 5 * time.Second

const (
	formContentType = "Content-Type: application/x-www-form-urlencoded"
	deviceGrantForm = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code="
	refreshForm     = "grant_type=refresh_token&refresh_token="
)

// deviceCode is one device authorization response. DeviceCode is kept
// form-encoded, ready for a request body.
type deviceCode struct {
	DeviceCode string
	UserCode   string
	Interval   time.Duration
}

// codeSink collects device codes from concurrent workers.
type codeSink struct {
	mu    sync.Mutex
	codes []deviceCode
	n     atomic.Int64
}

func (s *codeSink) add(c deviceCode) {
	s.mu.Lock()
	s.codes = append(s.codes, c)
	s.mu.Unlock()
	s.n.Add(1)
}

// take removes and returns every code collected so far.
func (s *codeSink) take() []deviceCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.codes
	s.codes = nil
	s.n.Store(0)
	return c
}

// tokenSet is what a redeemed code or a refresh yields.
type tokenSet struct{ Access, Refresh string }

// tokenSink collects token sets from concurrent workers.
type tokenSink struct {
	mu   sync.Mutex
	sets []tokenSet
}

func (s *tokenSink) add(t tokenSet) {
	s.mu.Lock()
	s.sets = append(s.sets, t)
	s.mu.Unlock()
}

// outcome names a response: "ok" for 200, else the OAuth error code, else
// "http_NNN".
func outcome(resp load.Response) string {
	if resp.Status == 200 {
		return load.OutcomeOK
	}
	if code := errorCode(resp.Body); code != "" {
		return code
	}
	return "http_" + strconv.Itoa(resp.Status)
}

// errorCode returns the "error" member of a JSON error body without
// decoding the whole body; error codes are plain ASCII (RFC 6749 §5.2).
func errorCode(body []byte) string {
	i := bytes.Index(body, []byte(`"error"`))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(body[i+len(`"error"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	rest = rest[1:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || end > 64 {
		return ""
	}
	return string(rest[:end])
}

// getStep sends GET path over and over.
func getStep(path string) func(int) load.Step {
	return func(int) load.Step {
		req := &load.Request{Method: "GET", Path: path, Header: []string{"Accept: application/json"}}
		return func(_ context.Context, c *load.Client) bool {
			if resp, err := c.Do(req); err == nil {
				c.Count(outcome(resp))
			}
			return true
		}
	}
}

// postForm returns a form POST to path with t's client credentials.
func postForm(t *Target, path string) *load.Request {
	return &load.Request{Method: "POST", Path: path,
		Header: []string{formContentType, "Accept: application/json", t.basicAuth()}}
}

// authorizeStep asks for device codes (RFC 8628 §3.1) and keeps them in
// sink; with limit > 0 it stops once sink holds limit codes.
func authorizeStep(t *Target, sink *codeSink, limit int64) func(int) load.Step {
	return func(int) load.Step {
		req := postForm(t, t.Endpoints.DeviceAuthorization)
		req.Body = []byte("scope=" + url.QueryEscape(t.Scope))
		return func(_ context.Context, c *load.Client) bool {
			if limit > 0 && sink.n.Load() >= limit {
				return false
			}
			resp, err := c.Do(req)
			if err != nil {
				return true
			}
			o := outcome(resp)
			if o == load.OutcomeOK {
				var r struct {
					DeviceCode string `json:"device_code"`
					UserCode   string `json:"user_code"`
					Interval   int    `json:"interval"`
				}
				if json.Unmarshal(resp.Body, &r) != nil || r.DeviceCode == "" || r.UserCode == "" {
					o = "malformed_response"
				} else {
					iv := time.Duration(r.Interval) * time.Second
					if iv <= 0 {
						iv = defaultInterval
					}
					sink.add(deviceCode{DeviceCode: url.QueryEscape(r.DeviceCode), UserCode: r.UserCode, Interval: iv})
				}
			}
			c.Count(o)
			return true
		}
	}
}

// pollRing is a ring of pending codes polled in turn, each no sooner than
// its interval after the answer to its previous poll, and by one
// connection at a time: a connection that came round the ring while
// another still waited to poll a code would otherwise poll it too, at the
// same instant, as no device does.
type pollRing struct {
	codes    []deviceCode
	cursor   atomic.Int64
	notAfter []atomic.Int64 // unix nanoseconds before which a code must not be polled
	interval []atomic.Int64 // current interval, raised by 5 s on each slow_down
	busy     []atomic.Bool  // a connection is waiting to poll, or polling, the code
}

func newPollRing(codes []deviceCode) *pollRing {
	r := &pollRing{codes: codes, notAfter: make([]atomic.Int64, len(codes)), interval: make([]atomic.Int64, len(codes)),
		busy: make([]atomic.Bool, len(codes))}
	for i, c := range codes {
		r.interval[i].Store(int64(c.Interval))
	}
	return r
}

// pacedPollStep polls the ring respecting every code's interval, as a
// well-behaved device does (RFC 8628 §3.5).
func pacedPollStep(t *Target, ring *pollRing) func(int) load.Step {
	return func(int) load.Step {
		req := postForm(t, t.Endpoints.Token)
		buf := make([]byte, 0, 256)
		return func(ctx context.Context, c *load.Client) bool {
			k := int((ring.cursor.Add(1) - 1) % int64(len(ring.codes)))
			if !ring.busy[k].CompareAndSwap(false, true) {
				return true // another connection has it: take the next
			}
			defer ring.busy[k].Store(false)
			if wait := time.Until(time.Unix(0, ring.notAfter[k].Load())); wait > 0 && !load.Sleep(ctx, wait) {
				return false
			}
			buf = append(append(buf[:0], deviceGrantForm...), ring.codes[k].DeviceCode...)
			req.Body = buf
			resp, err := c.Do(req)
			if err == nil {
				o := outcome(resp)
				if o == slowDown {
					ring.interval[k].Add(int64(5 * time.Second))
				}
				c.Count(o)
			}
			ring.notAfter[k].Store(time.Now().Add(time.Duration(ring.interval[k].Load()) + pollMargin).UnixNano())
			return true
		}
	}
}

// unpacedPollStep polls a few codes as fast as the server answers,
// ignoring interval: a misbehaving fleet, which slow_down must throttle.
func unpacedPollStep(t *Target, codes []deviceCode) func(int) load.Step {
	var cursor atomic.Int64
	return func(int) load.Step {
		req := postForm(t, t.Endpoints.Token)
		buf := make([]byte, 0, 256)
		return func(_ context.Context, c *load.Client) bool {
			k := (cursor.Add(1) - 1) % int64(len(codes))
			buf = append(append(buf[:0], deviceGrantForm...), codes[k].DeviceCode...)
			req.Body = buf
			if resp, err := c.Do(req); err == nil {
				c.Count(outcome(resp))
			}
			return true
		}
	}
}

// redeemStep polls each approved code once and keeps the tokens (RFC 8628
// §3.5: the first poll after approval gets the token response).
func redeemStep(t *Target, approved []deviceCode, sink *tokenSink) func(int) load.Step {
	var cursor atomic.Int64
	return func(int) load.Step {
		req := postForm(t, t.Endpoints.Token)
		return func(_ context.Context, c *load.Client) bool {
			k := cursor.Add(1) - 1
			if k >= int64(len(approved)) {
				return false
			}
			req.Body = []byte(deviceGrantForm + approved[k].DeviceCode)
			resp, err := c.Do(req)
			if err == nil {
				c.Count(keepTokens(resp, sink, nil))
			}
			return true
		}
	}
}

// keepTokens checks a token response and hands its tokens to sink or
// returns them in *into.
func keepTokens(resp load.Response, sink *tokenSink, into *tokenSet) string {
	o := outcome(resp)
	if o != load.OutcomeOK {
		return o
	}
	var r struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if json.Unmarshal(resp.Body, &r) != nil || r.Access == "" {
		return "malformed_response"
	}
	ts := tokenSet{Access: r.Access, Refresh: r.Refresh}
	if sink != nil {
		sink.add(ts)
	}
	if into != nil {
		*into = ts
	}
	return o
}

// refreshStep rotates refresh tokens (RFC 6749 §6): worker i owns the
// families i, i+conns, …, so no two requests ever present one token, and
// each uses the token the previous rotation returned. A family that fails
// is dropped.
func refreshStep(t *Target, sets []tokenSet, conns int) func(int) load.Step {
	return func(i int) load.Step {
		var mine []string
		for j := i; j < len(sets); j += conns {
			if sets[j].Refresh != "" {
				mine = append(mine, sets[j].Refresh)
			}
		}
		req := postForm(t, t.Endpoints.Token)
		buf := make([]byte, 0, 256)
		next := 0
		return func(_ context.Context, c *load.Client) bool {
			if len(mine) == 0 {
				return false
			}
			k := next % len(mine)
			next++
			buf = append(append(buf[:0], refreshForm...), url.QueryEscape(mine[k])...)
			req.Body = buf
			resp, err := c.Do(req)
			if err != nil {
				return true
			}
			var got tokenSet
			o := keepTokens(resp, nil, &got)
			c.Count(o)
			if o == load.OutcomeOK && got.Refresh != "" {
				mine[k] = got.Refresh
			} else {
				mine = append(mine[:k], mine[k+1:]...)
			}
			return true
		}
	}
}

// introspectStep asks about access tokens in turn (RFC 7662 §2); each is
// live, so every answer must say active.
func introspectStep(t *Target, tokens []string) func(int) load.Step {
	var cursor atomic.Int64
	return func(int) load.Step {
		req := postForm(t, t.Endpoints.Introspection)
		buf := make([]byte, 0, 1024)
		return func(_ context.Context, c *load.Client) bool {
			k := (cursor.Add(1) - 1) % int64(len(tokens))
			buf = append(append(buf[:0], "token="...), url.QueryEscape(tokens[k])...)
			req.Body = buf
			resp, err := c.Do(req)
			if err != nil {
				return true
			}
			o := outcome(resp)
			if o == load.OutcomeOK && !isActive(resp.Body) {
				o = outcomeInactive
			}
			c.Count(o)
			return true
		}
	}
}

func isActive(body []byte) bool {
	var r struct {
		Active bool `json:"active"`
	}
	return json.Unmarshal(body, &r) == nil && r.Active
}
