// Command lightsd is the Lights Incorporated device cloud of grantd's
// example: a resource server that keeps users' smart bulbs and accepts
// grantd's access tokens (package lights).
//
//	lightsd serve --issuer URL --audience URI [--addr A] [--db PATH]
//	              [--introspect-client-id ID]   (secret in $LIGHTSD_INTROSPECT_SECRET)
//	lightsd seed --user SUB [--bulbs N] [--db PATH]
//	lightsd set --bulb ID (--on | --off | --toggle | --brightness N) [--db PATH]
package main

import (
	"context"
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
	"syscall"
	"time"

	"github.com/grantd/grantd/internal/lights"
	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
)

const usage = `usage:
  lightsd serve --issuer URL --audience URI [--addr ADDR] [--db PATH] [--introspect-client-id ID]
  lightsd seed --user SUB [--bulbs N] [--db PATH]
  lightsd set --bulb ID (--on | --off | --toggle | --brightness N) [--db PATH]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lightsd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "seed":
		return seed(ctx, args[1:], stdout, stderr)
	case "set":
		return set(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	db := fs.String("db", "lights.db", "SQLite file")
	issuer := fs.String("issuer", "", "grantd's issuer URL (required)")
	audience := fs.String("audience", "", "this API's resource identifier, the aud its tokens must carry (required)")
	introspectID := fs.String("introspect-client-id", "", "check tokens at grantd's /introspect as this client (secret in $LIGHTSD_INTROSPECT_SECRET) instead of locally")
	poll := fs.Duration("webhook-poll", lights.DefaultPoll, "how often to look for state changes made by `lightsd set`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *issuer == "" || *audience == "" {
		return errors.New("serve: --issuer and --audience are required")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	st, err := lights.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	checker, err := newChecker(ctx, *issuer, *audience, *introspectID, getenv("LIGHTSD_INTROSPECT_SECRET"))
	if err != nil {
		return err
	}
	d := &lights.Dispatcher{Store: st, Now: time.Now, Poll: *poll, Logger: logger}
	api := &lights.API{Store: st, Guard: &rs.Guard{Checker: checker, Realm: "lights", Logger: logger},
		Queued: d.Notify, Now: time.Now, Logger: logger}
	mux := http.NewServeMux()
	api.Mount(mux)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go d.Run(ctx)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	logger.Info("lightsd listening", "addr", ln.Addr().String(), "issuer", *issuer, "audience", *audience)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newChecker returns the introspecting checker when a client id is given,
// else the local JWT verifier.
func newChecker(ctx context.Context, issuer, audience, clientID, secret string) (rs.Checker, error) {
	if clientID == "" {
		return rs.NewVerifier(issuer, audience), nil
	}
	if secret == "" {
		return nil, errors.New("serve: --introspect-client-id needs $LIGHTSD_INTROSPECT_SECRET")
	}
	m, err := rs.Discover(ctx, nil, issuer)
	if err != nil {
		return nil, err
	}
	return &rs.Introspector{Endpoint: m.IntrospectionEndpoint, ClientID: clientID, ClientSecret: secret,
		Issuer: issuer, Audience: audience}, nil
}

func seed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "lights.db", "SQLite file")
	user := fs.String("user", "", "the owner: the user's id at grantd, the sub of their tokens (required)")
	n := fs.Int("bulbs", 3, "how many bulbs to give the user")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := lights.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	bulbs, err := st.Seed(ctx, *user, *n, time.Now())
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(lightsapi.BulbList{Bulbs: bulbs})
}

func set(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "lights.db", "SQLite file")
	id := fs.String("bulb", "", "the bulb's id (required)")
	on := fs.Bool("on", false, "switch it on")
	off := fs.Bool("off", false, "switch it off")
	toggle := fs.Bool("toggle", false, "toggle it")
	brightness := fs.Int("brightness", -1, "set its brightness, 0-100")
	if err := parse(fs, args); err != nil {
		return err
	}
	var cmds []lightsapi.Command
	for name, given := range map[string]bool{lightsapi.CommandOn: *on, lightsapi.CommandOff: *off, lightsapi.CommandToggle: *toggle} {
		if given {
			cmds = append(cmds, lightsapi.Command{Command: name})
		}
	}
	if *brightness >= 0 {
		cmds = append(cmds, lightsapi.Command{Command: lightsapi.CommandBrightness, Brightness: brightness})
	}
	if *id == "" || len(cmds) != 1 {
		return errors.New("set: give --bulb and one of --on, --off, --toggle, --brightness N")
	}
	st, err := lights.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := st.Apply(ctx, "", *id, cmds[0], time.Now())
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(b)
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
