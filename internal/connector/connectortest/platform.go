// Package connectortest is a stand-in for AWS IoT managed integrations'
// SendConnectorEvent, for tests of the connector: it serves POST
// /connector-event/{ConnectorId} over real HTTP on loopback, checks each
// request's SigV4 signature against known credentials and the body against
// the event shape, and hands the events to the test.
package connectortest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/grantd/grantd/internal/connector"
)

// Region is the region the stand-in expects signatures for.
const Region = "eu-west-1"

// Credentials are the only credentials the stand-in accepts.
var Credentials = aws.Credentials{AccessKeyID: "AKIDLIGHTSEXAMPLE", SecretAccessKey: "lights-example-secret-key"}

// Received is one accepted event.
type Received struct {
	ConnectorID string
	Event       connector.Event
}

// Platform is the stand-in.
type Platform struct {
	*httptest.Server
	// Events receives every accepted event.
	Events chan Received
	t      testing.TB
	// held are events Wait took from Events while waiting for another
	// operation, kept for the Wait that wants them: the connector reports
	// asynchronously, so a DEVICE_EVENT may come before the
	// DEVICE_COMMAND_RESPONSE of the command that caused it.
	held []Received
}

// New starts a Platform, stopped when t ends.
func New(t testing.TB) *Platform {
	p := &Platform{Events: make(chan Received, 64), t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connector-event/{id}", p.serve)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// Wait returns the next event of operation op, failing t after timeout;
// events of other operations are kept, in order, for later Waits. Call it
// from one goroutine.
func (p *Platform) Wait(t testing.TB, op string, timeout time.Duration) Received {
	t.Helper()
	for i, r := range p.held {
		if r.Event.Operation == op {
			p.held = append(p.held[:i], p.held[i+1:]...)
			return r
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case r := <-p.Events:
			if r.Event.Operation == op {
				return r
			}
			p.held = append(p.held, r)
		case <-deadline:
			t.Fatalf("no %s event within %v", op, timeout)
			return Received{}
		}
	}
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	if err := verify(r, body); err != nil {
		p.t.Errorf("SendConnectorEvent with a bad signature: %v", err)
		http.Error(w, `{"message":"The request signature we calculated does not match"}`, http.StatusForbidden)
		return
	}
	var ev connector.Event
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil || ev.Operation == "" {
		p.t.Errorf("SendConnectorEvent with a malformed body %s: %v", body, err)
		http.Error(w, `{"message":"ValidationException"}`, http.StatusBadRequest)
		return
	}
	p.Events <- Received{ConnectorID: r.PathValue("id"), Event: ev}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ConnectorId":%q}`, r.PathValue("id"))
}

// verify recomputes the request's SigV4 signature over the headers it
// names, the body and the time it carries, with Credentials, and compares.
func verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	scope := "/" + Region + "/" + connector.SigningName + "/aws4_request"
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+Credentials.AccessKeyID+"/") || !strings.Contains(auth, scope) {
		return fmt.Errorf("authorization %q: want a SigV4 signature by %s for %s", auth, Credentials.AccessKeyID, scope)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %v", err)
	}
	_, names, _ := strings.Cut(auth, "SignedHeaders=")
	names, _, _ = strings.Cut(names, ",")
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, name := range strings.Split(names, ";") {
		if name != "host" && name != "content-length" && name != "x-amz-date" {
			again.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(r.Context(), Credentials, again, hex.EncodeToString(sum[:]),
		connector.SigningName, Region, at); err != nil {
		return err
	}
	if got := again.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature %q, want %q", auth, got)
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signed at %v, too far from now", at)
	}
	return nil
}
