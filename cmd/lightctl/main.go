// Command lightctl is the device side of grantd's Lights Incorporated
// example — what a TV or bulb app does (package lightctl):
//
//	lightctl login --issuer URL --client-id ID --lights URL
//	lightctl bulbs
//	lightctl on ID | off ID | brightness ID N
//	lightctl logout
//
// Flags may come before or after the command. The session (tokens
// included) is kept in $LIGHTCTL_CONFIG_DIR, else lightctl/ in the user's
// configuration directory, readable by the user alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/grantd/grantd/internal/lightctl"
	"github.com/grantd/grantd/internal/lightsapi"
)

const usage = `usage:
  lightctl login --issuer URL --client-id ID --lights URL
  lightctl bulbs
  lightctl on ID
  lightctl off ID
  lightctl brightness ID N
  lightctl logout
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lightctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lightctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	app := &lightctl.App{Out: stdout, HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	fs.StringVar(&app.Issuer, "issuer", getenv("LIGHTCTL_ISSUER"), "grantd's issuer URL")
	fs.StringVar(&app.ClientID, "client-id", getenv("LIGHTCTL_CLIENT_ID"), "this device app's client id at grantd")
	fs.StringVar(&app.LightsURL, "lights", getenv("LIGHTCTL_LIGHTS"), "lightsd's URL")
	// Flags may stand on either side of the command.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
	dir, err := configDir(getenv)
	if err != nil {
		return err
	}
	app.Dir = dir
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("no command given")
	}
	return dispatch(ctx, app, rest, stderr)
}

func dispatch(ctx context.Context, app *lightctl.App, args []string, stderr io.Writer) error {
	switch cmd, n := args[0], len(args); {
	case cmd == "login" && n == 1:
		return app.Login(ctx)
	case cmd == "bulbs" && n == 1:
		return app.Bulbs(ctx)
	case cmd == "on" && n == 2:
		return app.Command(ctx, args[1], lightsapi.Command{Command: lightsapi.CommandOn})
	case cmd == "off" && n == 2:
		return app.Command(ctx, args[1], lightsapi.Command{Command: lightsapi.CommandOff})
	case cmd == "brightness" && n == 3:
		level, err := strconv.Atoi(args[2])
		if err != nil || level < 0 || level > 100 {
			return fmt.Errorf("brightness: %q is not a number from 0 to 100", args[2])
		}
		return app.Command(ctx, args[1], lightsapi.Command{Command: lightsapi.CommandBrightness, Brightness: &level})
	case cmd == "logout" && n == 1:
		return app.Logout(ctx)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args)
	}
}

// configDir is $LIGHTCTL_CONFIG_DIR, else lightctl/ in the user's
// configuration directory.
func configDir(getenv func(string) string) (string, error) {
	if d := getenv("LIGHTCTL_CONFIG_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory (set LIGHTCTL_CONFIG_DIR): %w", err)
	}
	return filepath.Join(base, "lightctl"), nil
}
