package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/requestid"
	"github.com/grantd/grantd/internal/web"
)

// statusRecorder remembers the status a handler wrote, for the access log.
// It also gives the router's own answers, 404 for a path nothing serves and
// 405 for a method a path does not take, the security headers of the
// pages, which a browser may show them as.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
		if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
			if h := s.Header(); h.Get("Content-Security-Policy") == "" {
				web.SetSecurityHeaders(h)
			}
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// requestTimeout bounds every request's context. The database's own
// statement_timeout cannot end a query the database never received (a
// partition), so without a deadline of ours a store call could wait for TCP
// to give up, minutes later; with it, the handler's store error answers 503
// with Retry-After (REL-01).
const requestTimeout = 8 * time.Second

// withLogging gives each request an id (X-Request-Id, and in its context
// for every line logged while serving it) and a deadline, logs it once at
// the end, records it in m (nil: nowhere) by the pattern of the route that
// served it, and turns a panic into a plain 500 that leaks nothing. The log
// carries the path only: query strings can hold user codes (GEN-04).
//
// Requests for fromMemory, paths whose handlers answer from memory and log
// nothing, get neither a deadline nor the id in their context: they wait on
// nothing a deadline could end, and the timer of context.WithTimeout was a
// tenth of their cost (load harness, scenario 6).
func withLogging(logger *slog.Logger, m *metrics.Recorder, fromMemory []string, next http.Handler) http.Handler {
	ids := newRequestIDs()
	static := make(map[string]bool, len(fromMemory))
	for _, p := range fromMemory {
		static[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ids.next()
		outer := r.Context() // the access log's: its request_id is explicit
		if !static[r.URL.Path] {
			ctx, cancel := context.WithTimeout(requestid.With(outer, id), requestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.ErrorContext(outer, "panic serving request", "request_id", id, "path", r.URL.Path, "panic", p)
				if rec.status == 0 {
					http.Error(rec, "internal server error", http.StatusInternalServerError)
				}
			}
			d := time.Since(start)
			m.Request(r.Pattern, rec.status, d)
			logger.LogAttrs(outer, slog.LevelInfo, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status), slog.Duration("duration", d))
		}()
		next.ServeHTTP(rec, r)
	})
}

// requestIDs makes request ids: a random per-process prefix and a counter,
// unique across instances and restarts without a crypto/rand read per
// request. They are correlation ids, not secrets.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [4]byte
	rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (r *requestIDs) next() string {
	return r.prefix + strconv.FormatUint(r.n.Add(1), 36)
}
