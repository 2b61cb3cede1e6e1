// Package connector is the cloud-to-cloud (C2C) connector of the Lights
// Incorporated example: what AWS IoT managed integrations invokes to reach
// a user's bulbs in lightsd with the access token grantd issued when the
// user linked their account.
//
// It handles the four operations of the C2C interface, each in the
// envelope {"header":{"auth":{"token","type"}},"payload":{"operationName",
// "operationVersion","connectorId",…}} (versions 1.0 and 1.0.0), and
// answers {"header":{"responseCode"},"payload":{"responseMessage"}}:
//
//   - AWS.ActivateUser answers the user's id: the token's sub, checked by
//     the configured rs.Checker (local JWT verification, or grantd's
//     /introspect). It also registers the connector's webhook at lightsd.
//   - AWS.DiscoverDevices acknowledges, then reports the user's bulbs as
//     Matter endpoints (OnOff 0x0006, LevelControl 0x0008) through
//     SendConnectorEvent DEVICE_DISCOVERY.
//   - AWS.SendCommand translates the Matter commands (OnOff 0x00 Off,
//     0x01 On, 0x02 Toggle; LevelControl 0x00/0x04 MoveToLevel) to lightsd
//     commands, acknowledges, runs them and reports
//     DEVICE_COMMAND_RESPONSE with the bulb's new state.
//   - AWS.DeactivateUser removes the connector's webhook for the user and
//     revokes the token at grantd as the platform's OAuth client; that
//     client is created with --revoke-ends-grant, so the whole grant ends
//     and the refresh token the platform keeps is dead.
//
// A lightsd webhook (signed, see lightsapi.VerifySignature) becomes a
// DEVICE_EVENT. SendConnectorEvent is signed with SigV4 (EventSender).
//
// Response codes: 200 done (or accepted, for the asynchronous reports);
// 400 a malformed envelope, an unknown operation or version, an auth type
// other than OAuth2.0 (GeneralAuthorization is answered as not supported
// here) or a command a bulb cannot run; 401 a missing, invalid, expired or
// foreign token; 403 a token without the scope (lights:read to discover,
// lights:write to command); 404 a device that is not the user's; 503
// grantd or lightsd unreachable within the budget; 500 anything else (a
// panic included: it is recovered and logged, never crashes the process).
//
// Every invocation answers within Budget (1.5 s by default, under the
// platform's 2-second limit), also when lightsd is slow: each call carries
// a deadline, and reports run after the answer (Handle), or, under AWS
// Lambda, which freezes the process once the handler returns, before it
// but cut off at the budget (HandleSync).
package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
)

// Connector handles invocations. Its fields are set once and read-only
// afterwards.
type Connector struct {
	// Tokens checks the platform's access tokens.
	Tokens rs.Checker
	// LightsURL is lightsd's base URL; LightsHTTP (optional) sends its calls.
	LightsURL  string
	LightsHTTP *http.Client
	Events     EventSink
	Revoker    *Revoker
	// WebhookURL and WebhookSecret, when set, are registered at lightsd
	// for every activated user, so state changes reach the platform.
	WebhookURL    string
	WebhookSecret string
	// ConnectorID names the connector in DEVICE_EVENTs from webhooks.
	ConnectorID string
	// Budget bounds an invocation (default 1.5 s); ReportTimeout bounds an
	// asynchronous report (default 10 s).
	Budget        time.Duration
	ReportTimeout time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

// task is a report run after (or, under Lambda, before) the answer.
type task func(ctx context.Context)

var connectorIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Handle answers one invocation and runs its reports in the background,
// each within ReportTimeout. For a server whose process outlives the call.
func (c *Connector) Handle(ctx context.Context, raw []byte) Response {
	return c.handle(ctx, raw, func(t task) {
		go func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.reportTimeout())
			defer cancel()
			t(rctx)
		}()
	})
}

// HandleSync answers one invocation after running its reports, cut off so
// that the answer leaves within the budget: for AWS Lambda, which freezes
// the process as soon as the handler returns.
func (c *Connector) HandleSync(ctx context.Context, raw []byte) Response {
	start := time.Now()
	var tasks []task
	resp := c.handle(ctx, raw, func(t task) { tasks = append(tasks, t) })
	rctx, cancel := context.WithTimeout(ctx, max(c.budget()-time.Since(start), 0))
	defer cancel()
	for _, t := range tasks {
		t(rctx)
	}
	return resp
}

// handle validates the envelope and dispatches it; spawn schedules reports.
func (c *Connector) handle(ctx context.Context, raw []byte, spawn func(task)) (resp Response) {
	defer func() {
		if p := recover(); p != nil {
			c.Logger.ErrorContext(ctx, "connector panic", "panic", fmt.Sprint(p))
			resp = respond(http.StatusInternalServerError, "Internal error.")
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, c.budget())
	defer cancel()
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil || req.Payload == nil {
		return respond(http.StatusBadRequest, "The request is not a connector envelope: {\"header\":…,\"payload\":…}.")
	}
	p := req.Payload
	if p.OperationVersion != "1.0" && p.OperationVersion != "1.0.0" {
		return respond(http.StatusBadRequest, fmt.Sprintf("Operation version %q is not supported; use 1.0.", p.OperationVersion))
	}
	op, ok := c.operations()[p.OperationName]
	if !ok {
		return respond(http.StatusBadRequest, fmt.Sprintf("Unknown operation %q.", p.OperationName))
	}
	if !connectorIDPattern.MatchString(p.ConnectorID) {
		return respond(http.StatusBadRequest, "The connectorId is missing or malformed.")
	}
	a := req.Header.Auth
	switch {
	case a == nil:
		return respond(http.StatusBadRequest, "The header has no auth.")
	case a.Type == AuthGeneral:
		return respond(http.StatusBadRequest, "GeneralAuthorization is not supported by this connector: it links accounts with OAuth2.0.")
	case a.Type != AuthOAuth2:
		return respond(http.StatusBadRequest, fmt.Sprintf("Auth type %q is not supported; use OAuth2.0.", a.Type))
	}
	claims, err := c.Tokens.Check(ctx, a.Token)
	if err != nil {
		return c.tokenError(ctx, err)
	}
	if op.scope != "" && !claims.HasScope(op.scope) {
		return respond(http.StatusForbidden, "The access token lacks the scope "+op.scope+".")
	}
	return op.run(ctx, invocation{payload: p, token: a.Token, claims: claims, spawn: spawn})
}

// tokenError answers a failed token check.
func (c *Connector) tokenError(ctx context.Context, err error) Response {
	if errors.Is(err, rs.ErrInvalidToken) {
		return respond(http.StatusUnauthorized, rs.Reason(err))
	}
	c.Logger.WarnContext(ctx, "cannot check access token", "err", err)
	return respond(http.StatusServiceUnavailable, "The authorization server cannot be reached; try again.")
}

// invocation is one validated request.
type invocation struct {
	payload *Payload
	token   string
	claims  rs.Claims
	spawn   func(task)
}

type operation struct {
	scope string
	run   func(ctx context.Context, in invocation) Response
}

func (c *Connector) operations() map[string]operation {
	return map[string]operation{
		OpActivateUser:    {"", c.activateUser},
		OpDiscoverDevices: {"lights:read", c.discoverDevices},
		OpSendCommand:     {"lights:write", c.sendCommand},
		OpDeactivateUser:  {"", c.deactivateUser},
	}
}

// lights returns a client of lightsd acting with token.
func (c *Connector) lights(token string) *lightsapi.Client {
	return &lightsapi.Client{BaseURL: c.LightsURL, HTTPClient: c.LightsHTTP, Token: token}
}

func (c *Connector) budget() time.Duration {
	if c.Budget <= 0 {
		return 1500 * time.Millisecond
	}
	return c.Budget
}

func (c *Connector) reportTimeout() time.Duration {
	if c.ReportTimeout <= 0 {
		return 10 * time.Second
	}
	return c.ReportTimeout
}
