package httpserver

import (
	"net/http"

	"github.com/grantd/grantd/internal/config"
)

// mountPages mounts the browser pages: sign-in and device verification.
func mountPages(mux *http.ServeMux, cfg config.Config, o Options) error {
	return nil
}
