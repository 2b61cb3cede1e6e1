package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// errTooLarge reports a response body over MaxResponseBytes.
var errTooLarge = fmt.Errorf("response larger than %d bytes", MaxResponseBytes)

// httpClient copies base (or a default client) so that it follows no
// redirects and bounds response bodies, and tells observe (when set) of
// each call. A redirect from an upstream API endpoint is answered as it
// is: as an unexpected status.
func httpClient(base *http.Client, id string, observe func(string, string, int, error, time.Duration)) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	rt = limitTransport{rt}
	if observe != nil {
		rt = observeTransport{base: rt, id: id, observe: observe}
	}
	c.Transport = rt
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// callKey is the context key of the name of an upstream call (withCall).
type callKey struct{}

// withCall names the upstream call that ctx's requests make, for Observe.
func withCall(ctx context.Context, call string) context.Context {
	return context.WithValue(ctx, callKey{}, call)
}

// observeTransport tells observe of each request's outcome.
type observeTransport struct {
	base    http.RoundTripper
	id      string
	observe func(upstream, call string, status int, err error, d time.Duration)
}

func (t observeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.base.RoundTrip(r)
	call, _ := r.Context().Value(callKey{}).(string)
	if call == "" {
		call = "other"
	}
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	t.observe(t.id, call, status, err, time.Since(start))
	return res, err
}

// limitTransport refuses response bodies over MaxResponseBytes.
type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if res.ContentLength > MaxResponseBytes {
		res.Body.Close()
		return nil, errTooLarge
	}
	res.Body = &limitedBody{rc: res.Body, left: MaxResponseBytes}
	return res, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 { // the limit is reached: is there more?
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// getJSON fetches url and decodes its JSON body into v. Anything but a 200
// with a JSON body is an error. The content type is not checked: providers
// label their JWKS variously.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return &statusError{URL: url, Status: res.StatusCode}
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// statusError is an unexpected HTTP status from getJSON.
type statusError struct {
	URL    string
	Status int
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Status) }

// flight runs at most one fetch at a time and hands its result to every
// caller that arrived while it ran. The fetch runs on a context that the
// first caller's cancellation does not end (it has its own timeout), so
// one impatient caller does not fail the others.
type flight[T any] struct {
	mu sync.Mutex
	c  *flightCall[T]
}

type flightCall[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func (f *flight[T]) do(ctx context.Context, fetch func(context.Context) (T, error)) (T, error) {
	return f.start(ctx, fetch).wait(ctx)
}

// start returns the running call, starting one with fetch if none runs.
func (f *flight[T]) start(ctx context.Context, fetch func(context.Context) (T, error)) *flightCall[T] {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c == nil {
		c := &flightCall[T]{done: make(chan struct{})}
		f.c = c
		go func() {
			c.v, c.err = fetch(context.WithoutCancel(ctx))
			f.mu.Lock()
			f.c = nil
			f.mu.Unlock()
			close(c.done)
		}()
	}
	return f.c
}

// running returns the running call, or nil.
func (f *flight[T]) running() *flightCall[T] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c
}

// wait returns the call's result, or the cause of ctx's end if that comes
// first.
func (c *flightCall[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}

// isStatus reports whether err is an unexpected HTTP status in [lo, hi].
func isStatus(err error, lo, hi int) bool {
	var se *statusError
	return errors.As(err, &se) && se.Status >= lo && se.Status <= hi
}
