package lightctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/mdp/qrterminal/v3"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
)

// App runs lightctl's commands.
type App struct {
	// Dir holds the session file.
	Dir string
	// Issuer, ClientID and LightsURL are the flags; each overrides the
	// session's value when set.
	Issuer, ClientID, LightsURL string
	HTTPClient                  *http.Client
	Out                         io.Writer
}

// oauthConfig returns the x/oauth2 configuration of the device client at
// issuer, from its metadata.
func (a *App) oauthConfig(ctx context.Context, issuer, clientID string) (*oauth2.Config, rs.Metadata, error) {
	m, err := rs.Discover(ctx, a.HTTPClient, issuer)
	if err != nil {
		return nil, rs.Metadata{}, fmt.Errorf("cannot reach %s: %w", issuer, err)
	}
	return &oauth2.Config{ClientID: clientID, Scopes: []string{"lights:read", "lights:write"}, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: m.DeviceEndpoint, TokenURL: m.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams,
	}}, m, nil
}

func (a *App) ctx(ctx context.Context) context.Context {
	if a.HTTPClient == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, a.HTTPClient)
}

// Login runs the device grant: it shows the user code, the verification
// URL and a QR code of verification_uri_complete, polls as the server
// asks (interval, slow_down: x/oauth2 honours both), and saves the tokens.
func (a *App) Login(ctx context.Context) error {
	if a.Issuer == "" || a.ClientID == "" || a.LightsURL == "" {
		return errors.New("login: give --issuer, --client-id and --lights")
	}
	cfg, _, err := a.oauthConfig(ctx, a.Issuer, a.ClientID)
	if err != nil {
		return err
	}
	ctx = a.ctx(ctx)
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return fmt.Errorf("login: %w", explain(err))
	}
	fmt.Fprintf(a.Out, "To sign in, open %s\nand enter the code %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(a.Out, "\nOr scan this code with your phone:\n\n")
		qrterminal.GenerateWithConfig(da.VerificationURIComplete, qrterminal.Config{Level: qrterminal.L, Writer: a.Out,
			HalfBlocks: true, BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK,
			WhiteChar: qrterminal.WHITE_WHITE, BlackWhiteChar: qrterminal.BLACK_WHITE, QuietZone: 2})
		fmt.Fprintf(a.Out, "\n%s\n", da.VerificationURIComplete)
	}
	fmt.Fprintf(a.Out, "\nWaiting for you to approve…\n")
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		return fmt.Errorf("login: %w", explain(err))
	}
	s := Session{Issuer: a.Issuer, ClientID: a.ClientID, LightsURL: a.LightsURL, Token: tok}
	if err := Save(a.Dir, s); err != nil {
		return err
	}
	fmt.Fprintf(a.Out, "Signed in. lightctl bulbs lists your bulbs.\n")
	return nil
}

// explain turns the device grant's errors into messages for a person.
func explain(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	switch re.ErrorCode {
	case "access_denied":
		return errors.New("the sign-in was denied on the other device; nothing was saved")
	case "expired_token":
		return errors.New("the code expired before it was approved; run lightctl login again")
	case "invalid_grant":
		return errors.New("your sign-in has ended (signed out or revoked); run lightctl login again")
	case "invalid_client", "unauthorized_client":
		return fmt.Errorf("grantd does not know this device app (%s)", re.ErrorCode)
	}
	return fmt.Errorf("grantd refused: %s %s", re.ErrorCode, re.ErrorDescription)
}

// session loads the session with the flags applied.
func (a *App) session() (Session, error) {
	s, err := Load(a.Dir)
	if err != nil {
		return Session{}, err
	}
	for _, f := range []struct {
		dst  *string
		flag string
	}{{&s.Issuer, a.Issuer}, {&s.ClientID, a.ClientID}, {&s.LightsURL, a.LightsURL}} {
		if f.flag != "" {
			*f.dst = f.flag
		}
	}
	return s, nil
}

// lights returns a lightsd client with a valid access token: when the
// saved one has expired it is refreshed, and the rotated tokens are saved
// before they are used.
func (a *App) lights(ctx context.Context) (*lightsapi.Client, error) {
	s, err := a.session()
	if err != nil {
		return nil, err
	}
	cfg, _, err := a.oauthConfig(ctx, s.Issuer, s.ClientID)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.TokenSource(a.ctx(ctx), s.Token).Token()
	if err != nil {
		return nil, explain(err)
	}
	if tok.AccessToken != s.Token.AccessToken || tok.RefreshToken != s.Token.RefreshToken {
		s.Token = tok
		if err := Save(a.Dir, s); err != nil {
			return nil, err
		}
	}
	return &lightsapi.Client{BaseURL: s.LightsURL, HTTPClient: a.HTTPClient, Token: tok.AccessToken}, nil
}

// Bulbs lists the user's bulbs.
func (a *App) Bulbs(ctx context.Context) error {
	c, err := a.lights(ctx)
	if err != nil {
		return err
	}
	bulbs, err := c.Bulbs(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATE\tBRIGHTNESS")
	for _, b := range bulbs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d%%\n", b.ID, b.Name, onOff(b.On), b.Brightness)
	}
	return tw.Flush()
}

// Command sends cmd to bulb id and shows its new state.
func (a *App) Command(ctx context.Context, id string, cmd lightsapi.Command) error {
	c, err := a.lights(ctx)
	if err != nil {
		return err
	}
	b, err := c.Command(ctx, id, cmd)
	if lightsapi.HTTPStatus(err) == http.StatusNotFound {
		return fmt.Errorf("you have no bulb %q", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Out, "%s (%s): %s, brightness %d%%\n", b.Name, b.ID, onOff(b.On), b.Brightness)
	return nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// Logout revokes the refresh token at grantd, which ends the whole grant
// (RFC 7009 §2.1), then deletes the session file. When grantd cannot be
// reached the file is kept, so that the user can try again.
func (a *App) Logout(ctx context.Context) error {
	s, err := a.session()
	if err != nil {
		return err
	}
	_, m, err := a.oauthConfig(ctx, s.Issuer, s.ClientID)
	if err != nil {
		return err
	}
	tok, hint := s.Token.RefreshToken, "refresh_token"
	if tok == "" {
		tok, hint = s.Token.AccessToken, "access_token"
	}
	form := url.Values{"token": {tok}, "token_type_hint": {hint}, "client_id": {s.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("logout: cannot reach grantd, still signed in: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("logout: grantd answered %d, still signed in", resp.StatusCode)
	}
	if err := Remove(a.Dir); err != nil {
		return err
	}
	fmt.Fprintln(a.Out, "Signed out.")
	return nil
}
