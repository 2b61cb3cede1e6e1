// Package metrics counts what grantd does, for Prometheus: HTTP requests by
// endpoint and status, the device flow step by step, tokens issued, refresh
// token reuse, client authentication failures, rate-limit rejections and
// the store's latency per operation.
//
// A Recorder has a registry of its own, served by Handler on a listener
// apart from the main one (GRANTD_METRICS_ADDR). Its methods are safe on a
// nil *Recorder, which records nothing: code instruments unconditionally,
// and metrics that are off cost a nil check. Labels never carry user ids,
// codes, tokens or secrets; client ids only when Options.ClientLabels says
// so, since each client adds series.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options shape a Recorder.
type Options struct {
	// ClientLabels adds a client_id label to the device authorization,
	// device poll and tokens-issued counters (GRANTD_METRICS_CLIENT_LABELS).
	ClientLabels bool
	// Version and Revision label grantd_build_info.
	Version, Revision string
	// Collectors are registered too: the server passes the Go runtime's and
	// the process's (prometheus/collectors, which is not linked here
	// because it links database/sql into every package that records).
	Collectors []prometheus.Collector
}

// Recorder records grantd's metrics in a registry of its own.
type Recorder struct {
	reg          *prometheus.Registry
	clientLabels bool

	requests *prometheus.HistogramVec // endpoint, code

	deviceAuthorizations *prometheus.CounterVec   // [client_id]
	devicePolls          *prometheus.CounterVec   // outcome [, client_id]
	deviceDecisions      *prometheus.CounterVec   // decision
	decisionSeconds      *prometheus.HistogramVec // decision
	redemptionSeconds    prometheus.Histogram
	tokensIssued         *prometheus.CounterVec // grant_type [, client_id]
	refreshReuse         prometheus.Counter
	clientAuthFailures   *prometheus.CounterVec // reason
	rateLimited          *prometheus.CounterVec // budget

	storeSeconds *prometheus.HistogramVec // operation
	storeErrors  *prometheus.CounterVec   // operation

	upstreamSeconds *prometheus.HistogramVec // upstream, call, outcome
}

// Buckets, in seconds. Requests and store calls take from tens of
// microseconds (a device poll) to seconds (an argon2id check under load);
// a device flow's steps take from seconds to its code's lifetime.
var (
	requestBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	storeBuckets   = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
	flowBuckets    = []float64{5, 10, 15, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600}
)

// New returns a Recorder with its own registry, which also holds
// o.Collectors.
func New(o Options) *Recorder {
	withClient := func(labels ...string) []string {
		if o.ClientLabels {
			return append(labels, "client_id")
		}
		return labels
	}
	r := &Recorder{reg: prometheus.NewRegistry(), clientLabels: o.ClientLabels}
	f := factory{r.reg}
	r.requests = f.histogramVec("grantd_http_request_duration_seconds",
		"HTTP requests by endpoint (the route's pattern) and status code, and how long they took; _count counts them.",
		requestBuckets, "endpoint", "code")
	r.deviceAuthorizations = f.counterVec("grantd_device_authorizations_total",
		"Device authorizations issued: device and user codes handed out (RFC 8628 §3.2).", withClient()...)
	r.devicePolls = f.counterVec("grantd_device_polls_total",
		"Device access token requests by outcome: authorization_pending, slow_down, access_denied, expired_token, "+
			"issued, invalid_grant, invalid_request or error (RFC 8628 §3.5).", withClient("outcome")...)
	r.deviceDecisions = f.counterVec("grantd_device_decisions_total",
		"Users' decisions on device codes: approved or denied.", "decision")
	r.decisionSeconds = f.histogramVec("grantd_device_decision_seconds",
		"Time from a device authorization to the user's decision.", flowBuckets, "decision")
	r.redemptionSeconds = f.histogram("grantd_device_redemption_seconds",
		"Time from a device authorization to the poll that got its tokens.", flowBuckets)
	r.tokensIssued = f.counterVec("grantd_tokens_issued_total",
		"Token responses by grant type: a new grant's tokens, or a refresh's.", withClient("grant_type")...)
	r.refreshReuse = f.counter("grantd_refresh_token_reuse_total",
		"Rotated refresh tokens presented again after the grace window: each revoked its grant (RFC 9700 §4.14.2).")
	r.clientAuthFailures = f.counterVec("grantd_client_authentication_failures_total",
		"Failed client authentications by reason.", "reason")
	r.rateLimited = f.counterVec("grantd_rate_limited_total",
		"Requests refused because an attempt budget was spent, by budget.", "budget")
	r.storeSeconds = f.histogramVec("grantd_store_operation_duration_seconds",
		"Store operations by name and how long they took.", storeBuckets, "operation")
	r.storeErrors = f.counterVec("grantd_store_errors_total",
		"Store operations that failed with a fault (not a plain not-found or lost race), by name.", "operation")
	r.upstreamSeconds = f.histogramVec("grantd_upstream_request_duration_seconds",
		"Calls to upstream OpenID Connect providers by upstream id, call (discovery, jwks, token, refresh, "+
			"revocation, check) and outcome (the status class, 2xx to 5xx, or error when none came), and how long "+
			"they took; _count counts them.", requestBuckets, "upstream", "call", "outcome")
	info := f.gaugeVec("grantd_build_info", "The running grantd's version and VCS revision; always 1.", "version", "revision")
	info.WithLabelValues(o.Version, o.Revision).Set(1)
	r.reg.MustRegister(o.Collectors...)
	return r
}

// Handler serves the metrics in Prometheus's exposition format.
func (r *Recorder) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Gatherer returns the registry, for tests that read the metrics.
func (r *Recorder) Gatherer() prometheus.Gatherer { return r.reg }

// Request records an HTTP request to endpoint, the pattern of the route
// that served it ("" for none), answered with status after d.
func (r *Recorder) Request(endpoint string, status int, d time.Duration) {
	if r == nil {
		return
	}
	if endpoint == "" {
		endpoint = "unmatched"
	}
	r.requests.WithLabelValues(endpoint, statusText(status)).Observe(d.Seconds())
}

// UpstreamCall records a call to the upstream provider id, answered with
// status (0 with err when no answer came) after d. Its signature is
// upstream.Options.Observe's.
func (r *Recorder) UpstreamCall(id, call string, status int, err error, d time.Duration) {
	if r == nil {
		return
	}
	outcome := "error"
	if err == nil && status >= 100 && status < 600 {
		outcome = strconv.Itoa(status/100) + "xx"
	}
	r.upstreamSeconds.WithLabelValues(id, call, outcome).Observe(d.Seconds())
}

// statusText returns the decimal status code; the common ones without
// allocating.
func statusText(status int) string {
	switch status {
	case 0, http.StatusOK:
		return "200"
	case http.StatusSeeOther:
		return "303"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusTooManyRequests:
		return "429"
	case http.StatusServiceUnavailable:
		return "503"
	}
	return strconv.Itoa(status)
}

// factory makes collectors and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
