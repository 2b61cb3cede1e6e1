package httpserver_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"time"
)

// outside serves requests of a client that runs in a testing/synctest
// bubble with a server that runs outside it. The store's goroutines and
// channels belong to no bubble, and a store call made from inside one
// would hand them the bubble's channels, so the server must stay out; the
// client, whose waits are on the bubble's clock, takes no real time to
// wait. Make it outside the bubble.
type outside struct {
	e    *env
	work chan func()
	done chan struct{}
}

// serveOutside starts the goroutine that serves e's requests until the
// test ends.
func serveOutside(e *env) *outside {
	o := &outside{e: e, work: make(chan func()), done: make(chan struct{})}
	go func() {
		for f := range o.work {
			f()
			o.done <- struct{}{}
		}
	}()
	e.t.Cleanup(func() { close(o.work) })
	return o
}

// transport returns a RoundTripper for the bubble's client. Before each
// request, the server's clock moves as far as the bubble's has since the
// request before, and before, when not nil, sees the request as the server
// will; both run outside the bubble. Make it inside the bubble.
func (o *outside) transport(before func(*http.Request)) http.RoundTripper {
	return &bubbleTransport{o: o, before: before, last: time.Now()}
}

type bubbleTransport struct {
	o      *outside
	before func(*http.Request)
	last   time.Time // on the bubble's clock
}

func (tr *bubbleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	elapsed := time.Since(tr.last)
	tr.last = time.Now()
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	var resp *http.Response
	tr.o.work <- func() {
		tr.o.e.clock.Advance(elapsed)
		// A request of the server's own, with none of the bubble's
		// channels: not even its context.
		sreq := httptest.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
		sreq.Header = req.Header.Clone()
		if tr.before != nil {
			tr.before(sreq)
		}
		rec := httptest.NewRecorder()
		tr.o.e.handler.ServeHTTP(rec, sreq)
		resp = rec.Result()
	}
	<-tr.o.done
	resp.Request = req
	return resp, nil
}
