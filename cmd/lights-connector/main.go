// Command lights-connector is the cloud-to-cloud connector of grantd's
// Lights Incorporated example (package connector): an AWS Lambda handler
// when run by Lambda ($AWS_LAMBDA_RUNTIME_API set), otherwise a small HTTP
// server taking the same JSON at POST /invoke, and lightsd's webhooks at
// POST /lights-webhook.
//
//	lights-connector --issuer URL --audience URI --lights URL --client-id ID
//	                 --connector-id ID [--addr A] [--introspect]
//	                 [--events-endpoint URL|-] [--region R] [--webhook-url URL]
//
// Every flag can also be given in the environment (for Lambda), as
// LIGHTS_CONNECTOR_ and the flag's name in upper case with _ for -, e.g.
// LIGHTS_CONNECTOR_ISSUER. Secrets come only from the environment:
// LIGHTS_CONNECTOR_CLIENT_SECRET (the platform's OAuth client, for /revoke
// and /introspect), LIGHTS_CONNECTOR_WEBHOOK_SECRET (default: random at
// each start), and AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN for signing SendConnectorEvent.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/grantd/grantd/internal/connector"
	"github.com/grantd/grantd/internal/rs"
)

// config is the command line, with the environment's defaults.
type config struct {
	addr, issuer, audience, lights, clientID, connectorID string
	eventsEndpoint, region, webhookURL                    string
	introspect, lambda                                    bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lights-connector:", err)
		os.Exit(1)
	}
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("lights-connector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	str := func(p *string, name, def, usage string) {
		if v := getenv("LIGHTS_CONNECTOR_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage)
	}
	str(&c.addr, "addr", "127.0.0.1:8091", "HTTP mode: address to listen on")
	str(&c.issuer, "issuer", "", "grantd's issuer URL (required)")
	str(&c.audience, "audience", "", "lightsd's resource identifier, the aud of the platform's tokens (required)")
	str(&c.lights, "lights", "", "lightsd's URL (required)")
	str(&c.clientID, "client-id", "", "the platform's OAuth client at grantd, for /revoke and /introspect (required)")
	str(&c.connectorID, "connector-id", "", "the connector's id at managed integrations (required)")
	str(&c.region, "region", getenv("AWS_REGION"), "AWS region of managed integrations")
	str(&c.eventsEndpoint, "events-endpoint", "", "SendConnectorEvent endpoint (default: the region's; - prints the events on standard output)")
	str(&c.webhookURL, "webhook-url", "", "URL lightsd calls with state changes (HTTP mode default: this server's /lights-webhook)")
	fs.BoolVar(&c.introspect, "introspect", getenv("LIGHTS_CONNECTOR_INTROSPECT") == "true", "check every token at grantd's /introspect instead of locally")
	fs.BoolVar(&c.lambda, "lambda", getenv("AWS_LAMBDA_RUNTIME_API") != "", "run as an AWS Lambda handler")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for name, v := range map[string]string{"issuer": c.issuer, "audience": c.audience, "lights": c.lights,
		"client-id": c.clientID, "connector-id": c.connectorID, "region": c.region} {
		if v == "" {
			return config{}, fmt.Errorf("--%s is required", name)
		}
	}
	if c.eventsEndpoint == "" {
		c.eventsEndpoint = connector.DefaultEndpoint(c.region)
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	secret := getenv("LIGHTS_CONNECTOR_CLIENT_SECRET")
	if secret == "" {
		return errors.New("$LIGHTS_CONNECTOR_CLIENT_SECRET is required")
	}
	m, err := rs.Discover(ctx, nil, cfg.issuer)
	if err != nil {
		return err
	}
	tokens := connector.Tokens{Introspect: &rs.Introspector{Endpoint: m.IntrospectionEndpoint, ClientID: cfg.clientID,
		ClientSecret: secret, Issuer: cfg.issuer, Audience: cfg.audience}}
	if !cfg.introspect {
		tokens.Local = rs.NewVerifier(cfg.issuer, cfg.audience)
	}
	hookSecret := getenv("LIGHTS_CONNECTOR_WEBHOOK_SECRET")
	if hookSecret == "" {
		hookSecret = rand.Text()
	}
	var events connector.EventSink = &connector.EventSender{Endpoint: cfg.eventsEndpoint, Region: cfg.region, Now: time.Now,
		Credentials: aws.Credentials{AccessKeyID: getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: getenv("AWS_SESSION_TOKEN")}}
	if cfg.eventsEndpoint == "-" {
		events = &connector.Printer{W: stdout}
	}
	c := &connector.Connector{
		Tokens: tokens, LightsURL: cfg.lights, Events: events,
		Revoker:    &connector.Revoker{Endpoint: m.RevocationEndpoint, ClientID: cfg.clientID, ClientSecret: secret},
		WebhookURL: cfg.webhookURL, WebhookSecret: hookSecret, ConnectorID: cfg.connectorID,
		Now: time.Now, Logger: logger,
	}
	if cfg.lambda {
		lambda.StartWithOptions(func(ctx context.Context, raw json.RawMessage) (connector.Response, error) {
			return c.HandleSync(ctx, raw), nil
		}, lambda.WithContext(ctx))
		return nil
	}
	return serve(ctx, cfg.addr, c, logger)
}

// serve runs the HTTP mode until ctx ends.
func serve(ctx context.Context, addr string, c *connector.Connector, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if c.WebhookURL == "" {
		c.WebhookURL = "http://" + ln.Addr().String() + connector.WebhookPath
	}
	mux := http.NewServeMux()
	c.Mount(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	logger.Info("lights-connector listening", "addr", ln.Addr().String(), "webhook", c.WebhookURL)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
