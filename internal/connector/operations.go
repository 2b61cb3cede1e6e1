package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grantd/grantd/internal/lightsapi"
)

// activateUser answers the token's user id and registers the webhook.
func (c *Connector) activateUser(ctx context.Context, in invocation) Response {
	in.spawn(func(ctx context.Context) { c.registerWebhook(ctx, in.token) })
	r := respond(http.StatusOK, "Activated the user with connector "+in.payload.ConnectorID+".")
	r.Payload.UserID = in.claims.Subject
	return r
}

// registerWebhook registers the connector's webhook for the token's user,
// when one is configured; lightsd updates an existing registration.
func (c *Connector) registerWebhook(ctx context.Context, token string) {
	if c.WebhookURL == "" {
		return
	}
	if _, err := c.lights(token).RegisterWebhook(ctx, c.WebhookURL, c.WebhookSecret); err != nil {
		c.Logger.WarnContext(ctx, "register webhook at lightsd", "err", err)
	}
}

// discoverDevices acknowledges and reports the user's bulbs.
func (c *Connector) discoverDevices(ctx context.Context, in invocation) Response {
	p, user := in.payload, in.claims.Subject
	in.spawn(func(ctx context.Context) {
		c.registerWebhook(ctx, in.token)
		ev := Event{Operation: EventDeviceDiscovery, OperationVersion: "1.0", UserID: user,
			DeviceDiscoveryID: p.DeviceDiscoveryID, Devices: []Device{}}
		bulbs, err := c.lights(in.token).Bulbs(ctx)
		if err != nil {
			ev.StatusCode, ev.Message = failure(err)
		} else {
			ev.StatusCode = http.StatusOK
			for _, b := range bulbs {
				ev.Devices = append(ev.Devices, Device{ConnectorDeviceID: b.ID, ConnectorDeviceName: b.Name, CapabilityReport: Report(b)})
			}
		}
		c.send(ctx, p.ConnectorID, ev)
	})
	return respond(http.StatusOK, "Discovering devices for discovery job "+p.DeviceDiscoveryID+".")
}

// sendCommand checks and acknowledges the command, then runs it and
// reports the outcome.
func (c *Connector) sendCommand(ctx context.Context, in invocation) Response {
	p := in.payload
	if p.ConnectorDeviceID == "" {
		return respond(http.StatusBadRequest, "The connectorDeviceId is missing.")
	}
	cmds, err := Translate(p.Endpoints)
	if err != nil {
		return respond(http.StatusBadRequest, "The command cannot be run: "+err.Error()+".")
	}
	// Whether the device is the user's is known at once: lightsd answers
	// another user's bulb as a missing one.
	lights := c.lights(in.token)
	if _, err := lights.Bulb(ctx, p.ConnectorDeviceID); err != nil {
		code, msg := failure(err)
		return respond(code, msg)
	}
	in.spawn(func(ctx context.Context) {
		ev := Event{Operation: EventDeviceCommandResponse, OperationVersion: "1.0", UserID: in.claims.Subject,
			ConnectorDeviceID: p.ConnectorDeviceID, TraceID: p.TraceID, StatusCode: http.StatusOK}
		var b lightsapi.Bulb
		var err error
		for _, cmd := range cmds {
			if b, err = lights.Command(ctx, p.ConnectorDeviceID, cmd); err != nil {
				break
			}
		}
		if err != nil {
			ev.StatusCode, ev.Message = failure(err)
		} else {
			state := State(b)
			ev.MatterEndpoint = &state
		}
		c.send(ctx, p.ConnectorID, ev)
	})
	return respond(http.StatusOK, "Command received for trace "+p.TraceID+".")
}

// deactivateUser ends the link: the connector's webhook for the user goes,
// then the grant behind the token is revoked at grantd.
func (c *Connector) deactivateUser(ctx context.Context, in invocation) Response {
	c.unregisterWebhook(ctx, in.token)
	if err := c.Revoker.Revoke(ctx, in.token); err != nil {
		c.Logger.WarnContext(ctx, "revoke at grantd", "err", err)
		return respond(http.StatusServiceUnavailable, "The authorization server cannot be reached; try again.")
	}
	return respond(http.StatusOK, "Deactivated the user with connector "+in.payload.ConnectorID+".")
}

// unregisterWebhook removes the connector's webhook for the token's user,
// best effort, within half the remaining budget.
func (c *Connector) unregisterWebhook(ctx context.Context, token string) {
	if c.WebhookURL == "" {
		return
	}
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-c.budget()/2))
		defer cancel()
	}
	lights := c.lights(token)
	hooks, err := lights.Webhooks(ctx)
	for _, h := range hooks {
		if h.URL == c.WebhookURL && err == nil {
			err = lights.DeleteWebhook(ctx, h.ID)
		}
	}
	if err != nil {
		c.Logger.WarnContext(ctx, "remove webhook at lightsd", "err", err)
	}
}

// failure maps a lightsd error to a response code and message.
func failure(err error) (int, string) {
	switch s := lightsapi.HTTPStatus(err); {
	case s == http.StatusNotFound:
		return http.StatusNotFound, "No such device."
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return s, "lightsd refused the access token."
	case s == http.StatusBadRequest:
		return s, "lightsd refused the command."
	case errors.Is(err, context.DeadlineExceeded) || s == 0 || s >= 500:
		return http.StatusServiceUnavailable, "The device cloud cannot be reached; try again."
	default:
		return http.StatusInternalServerError, fmt.Sprintf("The device cloud answered %d.", s)
	}
}

// send sends ev, logging a failure: a report has no one to answer to.
func (c *Connector) send(ctx context.Context, connectorID string, ev Event) {
	if err := c.Events.Send(ctx, connectorID, ev); err != nil {
		c.Logger.ErrorContext(ctx, "send connector event", "operation", ev.Operation, "err", err)
	}
}
