// Package codecserver is the Temporal remote codec server: the Temporal Web
// UI and CLI send it encrypted payloads (POST /decode, /encode with a JSON
// body {"payloads": [...]}, header X-Namespace) and get them back decrypted —
// only for authenticated staff.
//
// Authentication is a staff bearer token (Authorization: Bearer …, as
// `temporal --codec-auth` and dsrctl send it, and as the UI sends the user's
// access token when "pass access token" is on), or a session cookie set by
// the server's own sign-in page (/signin) for browsers: the UI sends it when
// "include cross-origin credentials" is on. CORS admits only the UI's
// origins; everything else is refused. Decrypted answers are never cached.
package codecserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/converter"

	"madoguchi.dev/services/staff"
)

// Authenticator resolves staff credentials (services/staff.Store).
type Authenticator interface {
	// Authenticate returns the active account owning a bearer token.
	Authenticate(ctx context.Context, token string) (staff.Account, error)
	// Account returns an account by id (for sessions: is it still active?).
	Account(ctx context.Context, id string) (staff.Account, error)
}

// Auditor appends to the staff audit log (services/staff.Store).
type Auditor interface {
	Append(ctx context.Context, e staff.AuditEntry) (staff.AuditEntry, error)
}

// Options configure the server.
type Options struct {
	// Codec decrypts and encrypts (platform/codec with the key ring).
	Codec converter.PayloadCodec
	Auth  Authenticator
	// Audit records every decode and encode with the staff account, before
	// anything is decrypted: a codec call that cannot be recorded is refused.
	Audit Auditor
	// DecryptRoles may decode and encode payloads (default: staff only); an
	// account of another role signs in but gets 403 from the codec.
	DecryptRoles []staff.Role
	// AllowedOrigins are the exact browser origins (scheme://host:port) of
	// the Temporal UI allowed to call the codec endpoints.
	AllowedOrigins []string
	// Namespaces the server serves; empty means any. A request naming
	// another namespace (X-Namespace) is refused.
	Namespaces []string
	// SessionKey signs session cookies (32 bytes); nil generates one, so
	// sessions end when the server restarts.
	SessionKey []byte
	// SessionTTL is how long a browser sign-in lasts (default 8h).
	SessionTTL time.Duration
	// CookieSecure marks the session cookie Secure (set it behind HTTPS).
	CookieSecure bool
	// UIURL is linked from the sign-in page.
	UIURL string
	Log   zerolog.Logger
	Now   func() time.Time
}

// CookieName is the browser session cookie.
const CookieName = "madoguchi_codec_session"

// MaxBody bounds a codec request (Temporal payloads are at most 2 MB each).
const MaxBody = 16 << 20

type server struct {
	o     Options
	codec http.Handler
}

// New returns the codec server's handler.
func New(o Options) (http.Handler, error) {
	if o.Codec == nil || o.Auth == nil || o.Audit == nil {
		return nil, errors.New("codecserver: a codec, an authenticator and an audit log are required")
	}
	if len(o.DecryptRoles) == 0 {
		o.DecryptRoles = []staff.Role{staff.RoleStaff}
	}
	for _, origin := range o.AllowedOrigins {
		if origin == "*" || origin == "" || strings.HasSuffix(origin, "/") {
			return nil, fmt.Errorf("codecserver: allowed origin %q must be an exact scheme://host[:port]", origin)
		}
	}
	if o.SessionKey == nil {
		o.SessionKey = make([]byte, 32)
		if _, err := rand.Read(o.SessionKey); err != nil {
			return nil, err
		}
	}
	if len(o.SessionKey) < 32 {
		return nil, errors.New("codecserver: the session key needs at least 32 bytes")
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{o: o, codec: converter.NewPayloadCodecHTTPHandler(o.Codec)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.HandleFunc("POST /signin", s.signin)
	mux.HandleFunc("POST /signout", s.signout)
	mux.HandleFunc("GET /whoami", s.cors(s.whoami))
	mux.HandleFunc("POST /{$}", http.NotFound)
	// The UI posts to <endpoint>/decode; the CLI may use a per-namespace
	// endpoint (<endpoint>/{namespace}/decode).
	mux.HandleFunc("POST /", s.cors(s.payloads))
	mux.HandleFunc("OPTIONS /", s.preflight)
	return mux, nil
}

func (s *server) originAllowed(origin string) bool {
	return slices.Contains(s.o.AllowedOrigins, origin)
}

// preflight answers a browser's CORS preflight: only the UI's origins.
func (s *server) preflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !s.originAllowed(origin) {
		w.Header().Set("Vary", "Origin")
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	h := w.Header()
	s.corsHeaders(h, origin)
	h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization, Authorization-Extras")
	h.Set("Access-Control-Max-Age", "600")
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) corsHeaders(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
}

// cors refuses a browser request from any origin but the UI's, and adds the
// CORS headers (to errors too, so that the UI can tell 401 from a failure).
func (s *server) cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			if !s.originAllowed(origin) {
				w.Header().Set("Vary", "Origin")
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			s.corsHeaders(w.Header(), origin)
		}
		next(w, r)
	}
}

// authenticate reads the bearer token, else the session cookie.
func (s *server) authenticate(r *http.Request) (staff.Account, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return staff.Account{}, staff.ErrUnauthenticated
		}
		return s.o.Auth.Authenticate(r.Context(), strings.TrimSpace(token))
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return staff.Account{}, staff.ErrUnauthenticated
	}
	id, ok := s.verifySession(c.Value)
	if !ok {
		return staff.Account{}, staff.ErrUnauthenticated
	}
	a, err := s.o.Auth.Account(r.Context(), id)
	if errors.Is(err, staff.ErrNoAccount) || (err == nil && a.Disabled) {
		return staff.Account{}, staff.ErrUnauthenticated
	}
	return a, err
}

func (s *server) unauthorized(w http.ResponseWriter, err error) {
	if errors.Is(err, staff.ErrUnauthenticated) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="madoguchi-codec"`)
		http.Error(w, "staff sign-in required", http.StatusUnauthorized)
		return
	}
	s.o.Log.Error().Err(err).Msg("codec server: authentication failed")
	http.Error(w, "authentication unavailable", http.StatusServiceUnavailable)
}

func (s *server) payloads(w http.ResponseWriter, r *http.Request) {
	op := ""
	switch {
	case strings.HasSuffix(r.URL.Path, "/decode"):
		op = "decode"
	case strings.HasSuffix(r.URL.Path, "/encode"):
		op = "encode"
	default:
		http.NotFound(w, r)
		return
	}
	acct, err := s.authenticate(r)
	if err != nil {
		s.unauthorized(w, err)
		return
	}
	ns := r.Header.Get("X-Namespace")
	if ns != "" && len(s.o.Namespaces) > 0 && !slices.Contains(s.o.Namespaces, ns) {
		http.Error(w, "namespace not served here", http.StatusForbidden)
		return
	}
	if !slices.Contains(s.o.DecryptRoles, acct.Role) {
		s.o.Log.Warn().Str("actor", acct.ID).Str("role", string(acct.Role)).Str("op", op).Msg("codec refused: role may not decrypt")
		http.Error(w, "this account's role may not decrypt payloads", http.StatusForbidden)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	var batch struct {
		Payloads []json.RawMessage `json:"payloads"`
	}
	if err := json.Unmarshal(raw, &batch); err != nil {
		http.Error(w, "body is not a payloads document", http.StatusBadRequest)
		return
	}
	if _, err := s.o.Audit.Append(r.Context(), staff.AuditEntry{Actor: acct.ID, Action: "codec-" + op,
		Fields: map[string]any{"namespace": ns, "payloads": len(batch.Payloads)}, Result: staff.Accepted}); err != nil {
		s.o.Log.Error().Err(err).Str("actor", acct.ID).Msg("codec refused: the audit log is unavailable")
		http.Error(w, "the audit log is unavailable; nothing was decrypted", http.StatusServiceUnavailable)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.o.Log.Info().Str("actor", acct.ID).Str("op", op).Str("namespace", ns).Int("payloads", len(batch.Payloads)).Msg("codec request")
	s.codec.ServeHTTP(w, r)
}

func (s *server) whoami(w http.ResponseWriter, r *http.Request) {
	acct, err := s.authenticate(r)
	if err != nil {
		s.unauthorized(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"id": acct.ID, "display_name": acct.DisplayName, "role": string(acct.Role)})
}

// Sessions: "<id>.<expiry unix>.<mac>", HMAC-SHA256 under SessionKey. The
// account is looked up on every request, so disabling it ends its sessions.

func (s *server) sign(id string, exp int64) string {
	m := hmac.New(sha256.New, s.o.SessionKey)
	m.Write([]byte(id + "|" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *server) newSession(id string) (string, time.Time) {
	exp := s.o.Now().Add(s.o.SessionTTL)
	return id + "." + strconv.FormatInt(exp.Unix(), 10) + "." + s.sign(id, exp.Unix()), exp
}

func (s *server) verifySession(v string) (string, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.o.Now().Unix() >= exp {
		return "", false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(s.sign(parts[0], exp))) {
		return "", false
	}
	return parts[0], true
}

var page = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Madoguchi codec server — staff sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}
input[type=password]{width:100%;padding:.4rem}button{margin-top:.8rem;padding:.4rem 1rem}.msg{padding:.6rem;background:#eef}</style>
</head><body>
<h1>Staff sign-in</h1>
<p>Signing in lets the Temporal Web UI show decrypted workflow payloads in this browser
(session of {{.TTL}}). Everyone else sees ciphertext.</p>
{{if .Message}}<p class="msg">{{.Message}}</p>{{end}}
{{if .Account}}
<p>Signed in as <b>{{.Account}}</b>.{{if .UIURL}} Open the <a href="{{.UIURL}}">Temporal UI</a>.{{end}}</p>
<form method="post" action="/signout"><button>Sign out</button></form>
{{else}}
<form method="post" action="/signin">
<label>Staff token<br><input type="password" name="token" autocomplete="off" autofocus required></label><br>
<button>Sign in</button></form>
{{end}}
<p>In the UI, open the codec settings (the <code>&lt;/&gt;</code> icon), set the endpoint to this server,
turn on <em>Include cross-origin credentials</em> and choose <em>Use my browser setting</em> (once per browser).</p>
</body></html>`))

type pageData struct {
	Account, Message, UIURL, TTL string
}

func (s *server) render(w http.ResponseWriter, status int, d pageData) {
	d.UIURL, d.TTL = s.o.UIURL, s.o.SessionTTL.String()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = page.Execute(w, d)
}

func (s *server) signinPage(w http.ResponseWriter, r *http.Request) {
	d := pageData{}
	if a, err := s.authenticate(r); err == nil {
		d.Account = a.ID + " (" + a.DisplayName + ")"
	}
	s.render(w, http.StatusOK, d)
}

// sameOrigin refuses a form post made from another site's page.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	return strings.TrimPrefix(strings.TrimPrefix(origin, "http://"), "https://") == r.Host
}

func (s *server) signin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site sign-in refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	acct, err := s.o.Auth.Authenticate(r.Context(), r.PostFormValue("token"))
	if errors.Is(err, staff.ErrUnauthenticated) {
		s.o.Log.Warn().Str("remote", r.RemoteAddr).Msg("codec server: sign-in with an unknown or disabled token")
		s.render(w, http.StatusUnauthorized, pageData{Message: "Unknown or disabled staff token."})
		return
	}
	if err != nil {
		s.unauthorized(w, err)
		return
	}
	value, exp := s.newSession(acct.ID)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", Expires: exp,
		MaxAge: int(s.o.SessionTTL.Seconds()), HttpOnly: true, Secure: s.o.CookieSecure, SameSite: http.SameSiteStrictMode})
	s.o.Log.Info().Str("actor", acct.ID).Msg("codec server: staff signed in")
	s.render(w, http.StatusOK, pageData{Account: acct.ID + " (" + acct.DisplayName + ")", Message: "Signed in."})
}

func (s *server) signout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site sign-out refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.o.CookieSecure, SameSite: http.SameSiteStrictMode})
	s.render(w, http.StatusOK, pageData{Message: "Signed out."})
}
