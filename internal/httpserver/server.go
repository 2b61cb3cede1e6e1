// Package httpserver wires grantd's endpoints into one HTTP server:
// routing, middleware, health endpoints, background purging and graceful
// shutdown.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/device"
	"github.com/grantd/grantd/internal/discovery"
	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/introspect"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/requestid"
	"github.com/grantd/grantd/internal/revoke"
	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/token"
	"github.com/grantd/grantd/internal/upstream"
	"github.com/grantd/grantd/internal/userinfo"
)

// Paths of the endpoints, relative to the issuer.
const (
	TokenPath               = "/token"
	DeviceAuthorizationPath = "/device_authorization"
	VerificationPath        = "/device"
	AuthorizationPath       = "/authorize"
)

// ClientCacheTTL is how long a client record is reused across requests: a
// device polls every few seconds, and reading its client row each time was
// a tenth of a poll's cost. A change to a client — disabled, deleted, its
// secret rotated, its settings updated — takes effect within it at the
// token, device authorization, introspection and revocation endpoints.
const ClientCacheTTL = 2 * time.Second

// Server is a configured grantd HTTP server.
type Server struct {
	cfg     config.Config
	store   store.Store
	logger  *slog.Logger
	now     func() time.Time
	handler http.Handler
	keeper  *keys.Keeper
	// scopes are the scopes' descriptions, reloaded as the keys are.
	scopes *scopes.Catalog
	// stopping flips readiness to 503 as soon as shutdown begins (REL-14).
	stopping atomic.Bool
}

// Options are a server's dependencies. Now and Rand default to the real
// clock and crypto/rand.
type Options struct {
	Config config.Config
	Store  store.Store
	Logger *slog.Logger
	Now    func() time.Time
	Rand   io.Reader
	// Limiter keeps the attempt budgets; nil means an in-process one, right
	// for a single instance. Several instances need ratelimit.Shared.
	Limiter ratelimit.Limiter
	// Sealer seals upstream client secrets and tokens at rest under the
	// secret key (GRANTD_SECRET_KEY_FILE); nil when there is none, and then
	// no upstream provider can be used.
	Sealer *seal.Sealer
	// UpstreamHTTP is the HTTP client of calls to upstream providers; nil
	// means a default one.
	UpstreamHTTP *http.Client
	// Metrics, when not nil, records requests, the device flow, tokens,
	// client authentication failures and rate-limit rejections; wrap Store
	// with metrics.Store to time its operations too.
	Metrics *metrics.Recorder
}

// New builds the server: it loads (or, on first start, generates) the signing
// keys and mounts every endpoint.
func New(ctx context.Context, o Options) (*Server, error) {
	cfg := o.Config
	// Every line logged while serving a request carries its id.
	o.Logger = slog.New(requestid.Handler(o.Logger.Handler()))
	ks, err := keys.Load(ctx, o.Store, o.Rand, o.Now(), SigningAlgs(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	for _, w := range cfg.Warnings() {
		o.Logger.Warn(w)
	}
	s := &Server{cfg: cfg, store: o.Store, logger: o.Logger, now: o.Now, keeper: &keys.Keeper{
		Set: ks, Store: o.Store, Rand: o.Rand, Now: o.Now, Algs: SigningAlgs(cfg), Every: cfg.KeyReloadInterval,
		RotateEvery: cfg.KeyRotationPeriod, Rotation: KeyRotation(cfg), Logger: o.Logger,
	}}
	var limiter ratelimit.Limiter = ratelimit.NewMemory()
	if o.Limiter != nil {
		limiter = o.Limiter
	}
	limiter = metrics.Limiter(limiter, o.Metrics)
	verifier := secret.NewVerifier(0, secret.DefaultWait)
	auth := &clientauth.Authenticator{Clients: o.Store, Verifier: verifier, Limiter: limiter, Budget: cfg.ClientAuthLimit,
		ClientIP: cfg.ClientIP(), Now: o.Now, ClientTTL: ClientCacheTTL, Metrics: o.Metrics}
	mux := http.NewServeMux()
	dir := &federation.Directory{Store: o.Store, Sealer: o.Sealer, Now: o.Now, Logger: o.Logger,
		Options: upstream.Options{HTTPClient: o.UpstreamHTTP, Now: o.Now, Logger: o.Logger}}
	if o.Metrics != nil {
		dir.Options.Observe = o.Metrics.UpstreamCall
	}

	meta, err := discovery.New(metadata(cfg), ks.JWKS)
	if err != nil {
		return nil, err
	}
	meta.Mount(mux)
	s.scopes = &scopes.Catalog{Store: o.Store, OnChange: meta.SetScopesSupported, Logger: o.Logger}
	if _, err := s.scopes.Load(ctx); err != nil {
		return nil, err
	}
	deviceAuth := &device.Authorization{
		Store: o.Store, Auth: auth, VerificationURI: cfg.Issuer + VerificationPath,
		DeviceCodeFormat: cfg.DeviceCodeFormat, DeviceCodeLength: cfg.DeviceCodeLength,
		UserCodeFormat: cfg.UserCodeFormat, UserCodeLength: cfg.UserCodeLength,
		CodeExpiration: cfg.CodeExpiration, PollingInterval: cfg.PollingInterval,
		Limiter: limiter, LimitIP: cfg.DeviceAuthLimitIP, LimitClient: cfg.DeviceAuthLimitClient,
		ClientIP: cfg.ClientIP(), Metrics: o.Metrics, Now: o.Now, Rand: o.Rand, Logger: o.Logger,
	}
	deviceAuth.Mount(mux)
	successorKey, err := sharedSecret(ctx, o, "refresh-successor-key")
	if err != nil {
		return nil, err
	}
	(&token.Handler{
		Store: o.Store, Auth: auth, Keys: ks, Issuer: cfg.Issuer, Audience: cfg.Issuer,
		AccessTokenAlg: cfg.AccessTokenAlg, IDTokenAlg: cfg.IDTokenAlg, AccessTokenTTL: cfg.AccessTokenTTL,
		RefreshTokenTTL: cfg.RefreshTokenTTL, RefreshTokenIdleTTL: cfg.RefreshTokenIdleTTL,
		RefreshTokenGrace: cfg.RefreshTokenGrace, SuccessorKey: successorKey,
		TokenSet: token.TokenSet(cfg.ResultTokenSet), Upstreams: dir, AWSSampleCompat: cfg.AWSSampleCompat,
		DeviceAuthorization: deviceAuth, DeviceCodeLifetime: cfg.CodeExpiration, Metrics: o.Metrics,
		Now: o.Now, Rand: o.Rand, Logger: o.Logger,
	}).Mount(mux)
	checker := &bearer.Checker{Store: o.Store, Keys: ks, Issuer: cfg.Issuer, Now: o.Now}
	(&introspect.Handler{Store: o.Store, Auth: auth, Checker: checker, Limiter: limiter, Budget: cfg.IntrospectLimit,
		Now: o.Now, Logger: o.Logger}).Mount(mux)
	(&revoke.Handler{Store: o.Store, Auth: auth, Keys: ks, Issuer: cfg.Issuer, Limiter: limiter, Budget: cfg.RevokeLimit,
		Upstreams: dir, Now: o.Now, Logger: o.Logger}).Mount(mux)
	// UserInfo answers only tokens meant for this server (JWT-13): one for
	// another resource server is not a key to the user's profile here.
	(&userinfo.Handler{Checker: checker, Users: o.Store, Audience: cfg.Issuer, Logger: o.Logger}).Mount(mux)
	browserKey, err := sharedSecret(ctx, o, "sign-in-browser-key")
	if err != nil {
		return nil, err
	}
	mountPages(mux, cfg, o, pageDeps{limiter: limiter, verifier: verifier, browserKey: browserKey, upstreams: dir,
		scopes: s.scopes})
	mux.HandleFunc("GET "+livenessPath, s.live)
	mux.HandleFunc("GET /readyz", s.ready)
	s.handler = withLogging(o.Logger, o.Metrics, append(discovery.Paths(), livenessPath), mux)
	return s, nil
}

// livenessPath answers 200 while the process serves HTTP; /readyz also
// checks the store.
const livenessPath = "/healthz"

// KeyRotation is the schedule of a signing key rotation under cfg (REL-12).
// A successor is published for the JWKS cache lifetime plus two reload
// periods (one for every instance to publish it, one of margin) before it
// signs. Its predecessor stays published for the longest token lifetime
// (access and ID tokens share GRANTD_ACCESS_TOKEN_TTL) plus a reload period,
// during which a slower instance may still sign with it, plus a minute for
// clock skew between instances.
func KeyRotation(cfg config.Config) keys.Rotation {
	return keys.Rotation{
		PublishAhead: discovery.JWKSMaxAge + 2*cfg.KeyReloadInterval,
		RetireAfter:  cfg.AccessTokenTTL + cfg.KeyReloadInterval + time.Minute,
	}
}

// sharedSecret returns the named server secret every instance shares,
// drawing it on first start.
func sharedSecret(ctx context.Context, o Options, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := io.ReadFull(o.Rand, fresh); err != nil {
		return nil, fmt.Errorf("draw %s: %w", name, err)
	}
	v, err := o.Store.EnsureSecret(ctx, name, fresh)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return v, nil
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// SigningAlgs lists the algorithms cfg needs a signing key for.
func SigningAlgs(cfg config.Config) []string {
	if cfg.AccessTokenAlg == cfg.IDTokenAlg {
		return []string{cfg.AccessTokenAlg}
	}
	return []string{cfg.AccessTokenAlg, cfg.IDTokenAlg}
}

func metadata(cfg config.Config) discovery.Metadata {
	return discovery.Metadata{
		Issuer:                            cfg.Issuer,
		AuthorizationEndpoint:             cfg.Issuer + AuthorizationPath,
		TokenEndpoint:                     cfg.Issuer + TokenPath,
		DeviceAuthorizationEndpoint:       cfg.Issuer + DeviceAuthorizationPath,
		JWKSURI:                           cfg.Issuer + discovery.JWKSPath,
		UserinfoEndpoint:                  cfg.Issuer + userinfo.Path,
		IntrospectionEndpoint:             cfg.Issuer + introspect.Path,
		RevocationEndpoint:                cfg.Issuer + revoke.Path,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{token.GrantAuthorizationCode, token.GrantDeviceCode, token.GrantRefreshToken},
		TokenEndpointAuthMethodsSupported: []string{oauth.AuthBasic, oauth.AuthPost, oauth.AuthNone},
		IntrospectionAuthMethodsSupported: []string{oauth.AuthBasic, oauth.AuthPost},
		RevocationAuthMethodsSupported:    []string{oauth.AuthBasic, oauth.AuthPost, oauth.AuthNone},
		CodeChallengeMethodsSupported:     []string{oauth.MethodS256},
		PromptValuesSupported:             []string{"none", "login", "consent"},
		ISSParameterSupported:             true,
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{cfg.IDTokenAlg},
		AccessTokenSigningAlgValues:       []string{cfg.AccessTokenAlg},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"client_id", "scope", "jti", "preferred_username"},
	}
}

// live reports whether the process can serve without a restart
// (liveness): it fails only when the store has a fault it cannot recover
// from while the process runs, so that an orchestrator restarts it.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Health(); err != nil {
		s.logger.ErrorContext(r.Context(), "liveness: the store cannot recover without a restart", "error", err)
		http.Error(w, "store failed; restart needed", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// ready reports whether the store answers (readiness), unlike /healthz
// (liveness), which answers as long as the process serves.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "readiness: store unavailable", "error", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// idleTimeout ends a keep-alive connection left idle this long: a device
// polling every few seconds keeps its connection, and idle ones do not
// hold descriptors for long.
const idleTimeout = 30 * time.Second

// maxConnectionsAuto is GRANTD_MAX_CONNECTIONS's auto value, unless half the
// open-file limit is less.
const maxConnectionsAuto = 4096

// limitConnections caps the connections ln serves at once at
// cfg.MaxConnections, or, when that is auto, at maxConnectionsAuto or half
// the open-file limit, which it first raises to its hard limit: the rest
// of the descriptors are the store's, the logs' and the upstream calls'.
func (s *Server) limitConnections(ln net.Listener) net.Listener {
	files, err := raiseFileLimit()
	if err != nil {
		s.logger.Warn("cannot raise the open-file limit", "limit", files, "err", err)
	}
	limit := s.cfg.MaxConnections
	switch {
	case limit == 0:
		limit = maxConnectionsAuto
		if files > 0 {
			limit = int(min(uint64(limit), files/2))
		}
	case files > 0 && uint64(limit) > files/2:
		s.logger.Warn("GRANTD_MAX_CONNECTIONS leaves too few file descriptors for the store: a burst of connections can make requests fail",
			"max_connections", limit, "open_file_limit", files)
	}
	s.logger.Info("connection limit", "max_connections", limit, "open_file_limit", files)
	return newLimitListener(ln, limit)
}

// shutdownGrace bounds a graceful stop, under a typical 30 s orchestrator
// grace period (REL-14).
const shutdownGrace = 25 * time.Second

// Serve serves on ln until ctx is cancelled, then stops gracefully: readiness
// turns 503, requests go on being served for cfg.ShutdownDelay, then the
// listener closes and requests in flight complete.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	ln = s.limitConnections(ln)
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	go s.purge(bgCtx)
	go s.keeper.Run(bgCtx)
	// A `grantd scope set` reaches this instance within a reload interval.
	go s.scopes.Run(bgCtx, s.cfg.KeyReloadInterval)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	// A load balancer that probes /readyz every few seconds needs that long
	// to see the 503 and stop sending requests here; until then they are
	// still served (REL-14). With no delay the listener closes at once.
	if d := s.cfg.ShutdownDelay; d > 0 {
		s.logger.Info("draining: not ready, still serving", "delay", d)
		select {
		case <-time.After(d):
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		}
	}
	s.logger.Info("shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// purgeEvery is how often expired rows are deleted.
const purgeEvery = time.Minute

// purge deletes expired rows in the background. Expiry is also checked on
// every read, so a late purge is harmless (REL-18).
func (s *Server) purge(ctx context.Context) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.store.PurgeExpired(ctx, s.now())
			if err != nil {
				s.logger.WarnContext(ctx, "purge expired rows", "error", err)
			} else if n > 0 {
				s.logger.DebugContext(ctx, "purged expired rows", "rows", n)
			}
		}
	}
}
