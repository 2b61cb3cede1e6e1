// Package lightsapi is the contract of the Lights Incorporated device cloud
// (lightsd): its REST API's wire types, the signature of its webhooks, and
// a client. The server (package lights), the device CLI (lightctl) and the
// cloud-to-cloud connector share it, so the three agree by construction.
//
// The API, under /v1, with a grantd access token (Authorization: Bearer)
// whose aud is lightsd's resource identifier:
//
//	GET    /v1/bulbs                  lights:read   {"bulbs": [Bulb...]}, the caller's bulbs
//	GET    /v1/bulbs/{id}             lights:read   Bulb
//	POST   /v1/bulbs/{id}/commands    lights:write  Command → Bulb, the new state
//	GET    /v1/webhooks               lights:read   {"webhooks": [Webhook...]}
//	POST   /v1/webhooks               lights:write  Webhook{url, secret} → 201 Webhook (idempotent by url)
//	DELETE /v1/webhooks/{id}          lights:write  204
//
// A bulb or webhook of another user is answered 404, exactly like one that
// does not exist, so ids cannot be probed (AZ-27). Errors are JSON
// {"error", "error_description"}; token refusals carry RFC 6750 §3
// WWW-Authenticate challenges.
package lightsapi

import "time"

// Bulb is a smart bulb's state.
type Bulb struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	On   bool   `json:"on"`
	// Brightness is 0–100 percent; it is kept while the bulb is off.
	Brightness int       `json:"brightness"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// BulbList is the answer of GET /v1/bulbs.
type BulbList struct {
	Bulbs []Bulb `json:"bulbs"`
}

// Command names, the values of Command.Command.
const (
	CommandOn         = "on"
	CommandOff        = "off"
	CommandToggle     = "toggle"
	CommandBrightness = "brightness"
)

// Command is the body of POST /v1/bulbs/{id}/commands. Brightness is
// required by, and only allowed with, CommandBrightness.
type Command struct {
	Command    string `json:"command"`
	Brightness *int   `json:"brightness,omitempty"`
}

// Webhook is a registered receiver of state changes of the registering
// user's bulbs. Secret is sent when registering and never shown again.
type Webhook struct {
	ID     string `json:"id,omitempty"`
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// WebhookList is the answer of GET /v1/webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// EventBulbState is the type of the event sent when a bulb's state changes.
const EventBulbState = "bulb.state"

// Event is the body of a webhook delivery: a bulb of Owner (the user's id
// at grantd, the sub of their tokens) changed state.
type Event struct {
	ID    string    `json:"id"`
	Type  string    `json:"type"`
	Owner string    `json:"owner"`
	Bulb  Bulb      `json:"bulb"`
	At    time.Time `json:"at"`
}

// Error is the body of an error answer.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}
