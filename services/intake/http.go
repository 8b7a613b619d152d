package intake

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"madoguchi.dev/platform/seal"
)

// HTTP serves the pages, the JSON API and the health endpoints.
type HTTP struct {
	Service *Service
	Pool    *pgxpool.Pool
	NATS    *nats.Conn
	Log     zerolog.Logger
	// Requests reaches running requests (status, code, withdrawal); nil
	// makes the status pages answer "unavailable".
	Requests Requests
	// Packages opens disclosure packages; nil makes download links unknown.
	Packages Packages
	// Ring seals the grants that let a browser see a guarded package once
	// its code was entered; nil refuses every grant.
	Ring *seal.Ring
	// PublicURL is where the pages are published; an https URL makes the
	// grant cookie Secure.
	PublicURL string
	// DisclosureFeeJPY is shown on the form for fee-bearing kinds (0: "a fee applies").
	DisclosureFeeJPY int
	// Limits are the per-client rate limits (zero: defaults).
	Limits Limits
	// ReceiptWait bounds how long the receipt page waits for the workflow to
	// report the due date (default 3s; negative: do not wait).
	ReceiptWait time.Duration
	// Now is the clock (tests may fix it).
	Now func() time.Time

	once          sync.Once
	handler       http.Handler
	writes, reads *limiter
	limits        Limits
}

//go:embed static
var staticFS embed.FS

// Handler returns the routes.
func (h *HTTP) Handler() http.Handler {
	h.once.Do(h.build)
	return h.handler
}

func (h *HTTP) build() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/requests", h.handleAPISubmit)
	mux.HandleFunc("GET /{$}", h.handleForm("ja"))
	mux.HandleFunc("GET /en", h.handleForm("en"))
	mux.HandleFunc("POST /requests", h.handleFormSubmit)
	mux.HandleFunc("GET /status/{token}", h.handleStatus)
	mux.HandleFunc("POST /status/{token}/verify", h.handleVerify)
	mux.HandleFunc("POST /status/{token}/resend", h.handleResend)
	mux.HandleFunc("GET /status/{token}/withdraw", h.handleWithdrawPage)
	mux.HandleFunc("POST /status/{token}/withdraw", h.handleWithdraw)
	mux.HandleFunc("GET /status/{token}/fee", h.handleFee)
	mux.HandleFunc("GET /download/{token}", h.handleDownload)
	mux.HandleFunc("GET /download/{token}/package.json", h.handleDownloadJSON)
	mux.HandleFunc("POST /download/{token}/code", h.handleDownloadCode)
	mux.HandleFunc("POST /download/{token}/open", h.handleDownloadOpen)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", h.handleReady)

	h.limits = h.Limits.withDefaults()
	h.writes = newLimiter(h.limits.WritesPerMinute, h.limits.WriteBurst, h.limits.MaxClients)
	h.reads = newLimiter(h.limits.ReadsPerMinute, h.limits.ReadBurst, h.limits.MaxClients)

	// CSRF: the standard library's cross-origin protection (Go 1.25+) refuses
	// a state-changing request that a browser marks as cross-site
	// (Sec-Fetch-Site) or whose Origin is not this host. No token, no
	// cookie: it works without JavaScript and for every form alike.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Log.Warn().Str("path", routeOf(r)).Msg("cross-origin request refused")
		if isAPI(r) {
			writeJSON(w, http.StatusForbidden, apiError{Error: "cross_origin", Message: "cross-origin requests are refused"})
			return
		}
		h.renderMessage(w, http.StatusForbidden, localeOf(r), "forbidden_title", "forbidden_text")
	}))
	h.handler = traced(securityHeaders(csrf.Handler(h.rateLimit(mux))))
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

// rateLimit spends a token per POST (writes) and per secret-link page
// (reads) from the client's bucket; the form, static files and health
// checks are not limited.
func (h *HTTP) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var l *limiter
		switch {
		case r.Method == http.MethodPost:
			l = h.writes
		case strings.HasPrefix(r.URL.Path, "/status/") || strings.HasPrefix(r.URL.Path, "/download/"):
			l = h.reads
		}
		if l != nil {
			if ok, wait := l.allow(h.limits.ClientKey(r), h.now()); !ok {
				w.Header().Set("Retry-After", retryAfter(wait))
				h.Log.Warn().Str("path", routeOf(r)).Msg("rate limited")
				if isAPI(r) {
					writeJSON(w, http.StatusTooManyRequests, apiError{Error: "rate_limited", Message: "too many requests; retry later"})
					return
				}
				h.renderMessage(w, http.StatusTooManyRequests, localeOf(r), "toomany_title", "toomany_text")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (h *HTTP) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// routeOf names a request's route for logs without the secret in the path.
func routeOf(r *http.Request) string {
	p := r.URL.Path
	for _, prefix := range []string{"/status/", "/download/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				return prefix + "…" + rest[i:]
			}
			return prefix + "…"
		}
	}
	return p
}

// localeOf guesses a page's language before the request is parsed.
func localeOf(r *http.Request) string {
	switch {
	case r.URL.Query().Get("lang") == "en", r.URL.Path == "/en":
		return "en"
	case r.URL.Query().Get("lang") == "ja":
		return "ja"
	case strings.HasPrefix(r.Header.Get("Accept-Language"), "en"):
		return "en"
	}
	return "ja"
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// The status and download links carry secrets: never send them on.
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
