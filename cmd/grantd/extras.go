package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/metrics"
)

// serveExtras starts the listeners apart from the main one that cfg asks
// for: Prometheus metrics (GRANTD_METRICS_ADDR) and Go's profiles
// (GRANTD_PPROF_ADDR). Each has its own listener and mux, so nothing of
// them is reachable on the main port; they stop when ctx ends.
func serveExtras(ctx context.Context, cfg config.Config, rec *metrics.Recorder, logger *slog.Logger) error {
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", rec.Handler())
		if err := serveAside(ctx, "metrics", cfg.MetricsAddr, mux, logger); err != nil {
			return err
		}
	}
	if cfg.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		if err := serveAside(ctx, "pprof", cfg.PprofAddr, mux, logger); err != nil {
			return err
		}
	}
	return nil
}

// serveAside serves h on addr (a loopback or private address, checked by
// config) until ctx ends.
func serveAside(ctx context.Context, name, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listen on %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn(name+" server stopped", "error", err)
		}
	}()
	logger.Info(name+" listening", "addr", ln.Addr().String())
	return nil
}
