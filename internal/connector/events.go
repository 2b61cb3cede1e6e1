package connector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Connector event operations (SendConnectorEvent's Operation).
const (
	EventDeviceDiscovery       = "DEVICE_DISCOVERY"
	EventDeviceCommandResponse = "DEVICE_COMMAND_RESPONSE"
	EventDeviceEvent           = "DEVICE_EVENT"
)

// SigningName is the service name managed integrations' requests are
// signed for (SigV4 credential scope).
const SigningName = "iotmanagedintegrations"

// Event is the body of SendConnectorEvent (POST
// /connector-event/{ConnectorId}).
type Event struct {
	Operation         string         `json:"Operation"`
	OperationVersion  string         `json:"OperationVersion,omitempty"`
	StatusCode        int            `json:"StatusCode,omitempty"`
	Message           string         `json:"Message,omitempty"`
	UserID            string         `json:"UserId,omitempty"`
	DeviceDiscoveryID string         `json:"DeviceDiscoveryId,omitempty"`
	ConnectorDeviceID string         `json:"ConnectorDeviceId,omitempty"`
	TraceID           string         `json:"TraceId,omitempty"`
	Devices           []Device       `json:"Devices,omitempty"`
	MatterEndpoint    *StateEndpoint `json:"MatterEndpoint,omitempty"`
}

// Device is one discovered device.
type Device struct {
	ConnectorDeviceID   string           `json:"ConnectorDeviceId"`
	ConnectorDeviceName string           `json:"ConnectorDeviceName,omitempty"`
	CapabilityReport    CapabilityReport `json:"CapabilityReport"`
}

// EventSink receives connector events.
type EventSink interface {
	Send(ctx context.Context, connectorID string, ev Event) error
}

// EventSender calls SendConnectorEvent over HTTPS, signed with SigV4 by the
// AWS SDK's signer. The managed-integrations service client is not used:
// the one call needs only the signer.
type EventSender struct {
	// Endpoint is the service's URL, e.g.
	// https://api.iotmanagedintegrations.eu-west-1.amazonaws.com.
	Endpoint    string
	Region      string
	Credentials aws.Credentials
	HTTPClient  *http.Client
	Now         func() time.Time
}

// DefaultEndpoint is the managed integrations endpoint of region.
func DefaultEndpoint(region string) string {
	return "https://api.iotmanagedintegrations." + region + ".amazonaws.com"
}

// Send posts ev for connectorID and succeeds on a 2xx answer.
func (s *EventSender) Send(ctx context.Context, connectorID string, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	u := strings.TrimSuffix(s.Endpoint, "/") + "/connector-event/" + url.PathEscape(connectorID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("send %s: %w", ev.Operation, err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	signer := v4.NewSigner()
	if err := signer.SignHTTP(ctx, s.Credentials, req, hex.EncodeToString(sum[:]), SigningName, s.Region, s.Now()); err != nil {
		return fmt.Errorf("sign %s: %w", ev.Operation, err)
	}
	hc := s.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("send %s: %w", ev.Operation, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("send %s: status %d: %s", ev.Operation, resp.StatusCode, msg)
	}
	return nil
}

// Printer is an EventSink that writes each event as one JSON line, for
// trying the connector without managed integrations.
type Printer struct {
	mu sync.Mutex
	W  io.Writer
}

// Send writes ev with its connector id.
func (p *Printer) Send(_ context.Context, connectorID string, ev Event) error {
	b, err := json.Marshal(struct {
		ConnectorID string `json:"ConnectorId"`
		Event
	}{connectorID, ev})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err = fmt.Fprintf(p.W, "%s\n", b)
	return err
}
