package intake

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// HTTP serves the pages, the JSON API and the health endpoints.
type HTTP struct {
	Service *Service
	Pool    *pgxpool.Pool
	NATS    *nats.Conn
	Log     zerolog.Logger
}

// Handler returns the routes.
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/requests", h.handleAPISubmit)
	mux.HandleFunc("GET /{$}", h.handleForm("ja"))
	mux.HandleFunc("GET /en", h.handleForm("en"))
	mux.HandleFunc("POST /requests", h.handleFormSubmit)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", h.handleReady)
	return securityHeaders(mux)
}

// handleReady reports ready only when the database and NATS both answer.
func (h *HTTP) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "nats": "ok"}
	status := http.StatusOK
	if err := h.Pool.Ping(ctx); err != nil {
		checks["database"], status = "unavailable", http.StatusServiceUnavailable
	}
	if h.NATS == nil || !h.NATS.IsConnected() {
		checks["nats"], status = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, status, checks)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
