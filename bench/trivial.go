package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/grantd/grantd/bench/load"
	"github.com/grantd/grantd/bench/proc"
)

// trivialEnv, when set to an address, makes the harness binary (or the
// smoke test's binary) serve the trivial handler there instead of running.
const trivialEnv = "GRANTD_BENCH_TRIVIAL_ADDR"

// serveTrivial serves a bare net/http handler: GET answers a small JSON
// document, POST parses its form and answers the same. Measured under the
// same generator, pinning and connections as grantd, it shows how fast the
// generator can go, and so that the generator is not what limits grantd.
func serveTrivial(addr string) error {
	body := []byte(`{"trivial":true}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.ParseForm()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	return http.ListenAndServe(addr, h)
}

// measureTrivial starts the trivial handler on the server core and measures
// a GET and a POST scenario against it.
func measureTrivial(ctx context.Context, s settings, pin bool, dir string) (*TargetReport, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	t := &Target{Name: "net/http trivial", Addr: addr, Host: addr, ClientID: "trivial", Secret: "trivial"}
	t.Base, _ = url.Parse("http://" + addr)
	cmd, pinned := proc.Command(pinCPU(pin), self)
	cmd.Env = append(os.Environ(), trivialEnv+"="+addr)
	t.Log = filepath.Join(dir, "trivial.log")
	if err := startLogged(ctx, t, cmd, pinned, t.Base.String()+"/"); err != nil {
		return nil, err
	}
	defer t.Stop()
	r := &runner{t: t, s: s, rep: &TargetReport{Name: t.Name, Pinned: pinned}}
	r.measure(ctx, scTrivialGET, getStep("/"), s.Warmup, nil)
	r.measure(ctx, scTrivialPOST, func(int) load.Step {
		req := postForm(t, "/")
		req.Body = []byte("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01")
		return func(_ context.Context, c *load.Client) bool {
			if resp, err := c.Do(req); err == nil {
				c.Count(outcome(resp))
			}
			return true
		}
	}, s.Warmup, nil)
	return r.rep, nil
}

// maybeServeTrivial serves the trivial handler and exits when trivialEnv
// is set; the harness starts itself that way.
func maybeServeTrivial() {
	if addr := os.Getenv(trivialEnv); addr != "" {
		fmt.Fprintln(os.Stderr, serveTrivial(addr))
		os.Exit(1)
	}
}
