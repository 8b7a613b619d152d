package codecserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/services/staff"
)

const uiOrigin = "http://127.0.0.1:8233"

type accounts map[string]staff.Account // token -> account

func (a accounts) Authenticate(_ context.Context, token string) (staff.Account, error) {
	acct, ok := a[token]
	if !ok || acct.Disabled {
		return staff.Account{}, staff.ErrUnauthenticated
	}
	return acct, nil
}

func (a accounts) Account(_ context.Context, id string) (staff.Account, error) {
	for _, acct := range a {
		if acct.ID == id {
			return acct, nil
		}
	}
	return staff.Account{}, staff.ErrNoAccount
}

func ring(t *testing.T, spec ...string) *seal.Ring {
	t.Helper()
	r, err := seal.ParseRing(strings.Join(spec, ","))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func key(t *testing.T, id string) string {
	t.Helper()
	k, err := seal.NewKeySpec(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	srv   *httptest.Server
	accts accounts
	audit *auditLog
	now   time.Time
}

// auditLog records what the server appends; broken makes it fail.
type auditLog struct {
	mu      sync.Mutex
	entries []staff.AuditEntry
	broken  bool
}

func (a *auditLog) Append(_ context.Context, e staff.AuditEntry) (staff.AuditEntry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.broken {
		return e, errors.New("audit database down")
	}
	a.entries = append(a.entries, e)
	return e, nil
}

func (a *auditLog) all() []staff.AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]staff.AuditEntry(nil), a.entries...)
}

func newFixture(t *testing.T, r *seal.Ring) *fixture {
	t.Helper()
	f := &fixture{accts: accounts{
		"tok-sato":   {ID: "sato", DisplayName: "佐藤", Role: staff.RoleStaff},
		"tok-viewer": {ID: "suzuki", DisplayName: "鈴木", Role: staff.RoleViewer},
		"tok-gone":   {ID: "gone", DisplayName: "退職", Role: staff.RoleStaff, Disabled: true},
	}, audit: &auditLog{}, now: time.Now()}
	h, err := New(Options{Codec: codec.New(r), Auth: f.accts, Audit: f.audit, AllowedOrigins: []string{uiOrigin},
		Namespaces: []string{"default"}, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// encrypted returns a JSON payload encrypted under r, as a worker writes it.
func encrypted(t *testing.T, r *seal.Ring, v any) *commonpb.Payload {
	t.Helper()
	p, err := codec.DataConverter(r).ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func body(t *testing.T, ps ...*commonpb.Payload) []byte {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) post(t *testing.T, path string, b []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func decoded(t *testing.T, raw []byte) []*commonpb.Payload {
	t.Helper()
	var ps commonpb.Payloads
	if err := protojson.Unmarshal(raw, &ps); err != nil {
		t.Fatalf("decode answer %q: %v", raw, err)
	}
	return ps.Payloads
}

func TestDecodeNeedsAValidStaffToken(t *testing.T) {
	r := ring(t, key(t, "k1"))
	f := newFixture(t, r)
	p := encrypted(t, r, map[string]string{"name": "山田 花子"})
	if string(p.Metadata[converter.MetadataEncoding]) != codec.MetadataEncoding || bytes.Contains(p.Data, []byte("山田")) {
		t.Fatalf("payload not encrypted: %v", p)
	}
	for name, hdr := range map[string]map[string]string{
		"no credentials":    nil,
		"unknown token":     {"Authorization": "Bearer tok-guess"},
		"disabled account":  {"Authorization": "Bearer tok-gone"},
		"not a bearer":      {"Authorization": "Basic dG9rLXNhdG86"},
		"forged cookie":     {"Cookie": CookieName + "=sato.9999999999.AAAA"},
		"empty bearer":      {"Authorization": "Bearer "},
		"token in cookie??": {"Cookie": CookieName + "=tok-sato"},
	} {
		resp, out := f.post(t, "/decode", body(t, p), hdr)
		if resp.StatusCode != http.StatusUnauthorized || bytes.Contains(out, []byte("山田")) {
			t.Errorf("%s: %d %q, want 401 without plaintext", name, resp.StatusCode, out)
		}
	}
	// A viewer signs in but may not decrypt.
	if resp, out := f.post(t, "/decode", body(t, p), map[string]string{"Authorization": "Bearer tok-viewer"}); resp.StatusCode != http.StatusForbidden ||
		bytes.Contains(out, []byte("山田")) {
		t.Errorf("viewer: %d %q, want 403 without plaintext", resp.StatusCode, out)
	}
	if n := len(f.audit.all()); n != 0 {
		t.Errorf("%d audit entries for refused calls; want none", n)
	}
	for _, tok := range []string{"tok-sato"} {
		resp, out := f.post(t, "/decode", body(t, p), map[string]string{"Authorization": "Bearer " + tok})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", tok, resp.StatusCode, out)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("decrypted answer may be cached: Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		ps := decoded(t, out)
		var v map[string]string
		if err := converter.GetDefaultDataConverter().FromPayload(ps[0], &v); err != nil || v["name"] != "山田 花子" {
			t.Errorf("%s: decoded %v, %v", tok, v, err)
		}
	}
	// Another namespace is not served.
	resp, _ := f.post(t, "/decode", body(t, p), map[string]string{"Authorization": "Bearer tok-sato", "X-Namespace": "other"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("other namespace: %d, want 403", resp.StatusCode)
	}
}

// Every decrypt is written to the audit log with the staff account before
// anything is decrypted; when the log cannot be written, nothing is.
func TestEveryDecryptIsAuditedWithTheStaffAccountOrRefused(t *testing.T) {
	r := ring(t, key(t, "k1"))
	f := newFixture(t, r)
	p := encrypted(t, r, map[string]string{"name": "山田 花子"})
	resp, _ := f.post(t, "/decode", body(t, p, p), map[string]string{"Authorization": "Bearer tok-sato"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("decode: %d", resp.StatusCode)
	}
	got := f.audit.all()
	if len(got) != 1 || got[0].Actor != "sato" || got[0].Action != "codec-decode" || got[0].Result != staff.Accepted ||
		got[0].Fields["payloads"] != 2 || got[0].Fields["namespace"] != "default" {
		t.Fatalf("audit log = %+v; want one accepted codec-decode by sato of 2 payloads", got)
	}
	f.audit.mu.Lock()
	f.audit.broken = true
	f.audit.mu.Unlock()
	resp, out := f.post(t, "/decode", body(t, p), map[string]string{"Authorization": "Bearer tok-sato"})
	if resp.StatusCode != http.StatusServiceUnavailable || bytes.Contains(out, []byte("山田")) {
		t.Errorf("with the audit log down: %d %q; want 503 and nothing decrypted", resp.StatusCode, out)
	}
}

func TestEncodeThenDecodeRoundTripsAndPlainPayloadsPassThrough(t *testing.T) {
	r := ring(t, key(t, "k1"))
	f := newFixture(t, r)
	plain, _ := converter.GetDefaultDataConverter().ToPayload("20261126-7K3M9Q")
	auth := map[string]string{"Authorization": "Bearer tok-sato"}
	resp, out := f.post(t, "/encode", body(t, plain), auth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("encode: %d %s", resp.StatusCode, out)
	}
	enc := decoded(t, out)
	if string(enc[0].Metadata[codec.MetadataKeyID]) != "k1" || bytes.Contains(enc[0].Data, []byte("7K3M9Q")) {
		t.Fatalf("encoded = %v", enc[0])
	}
	resp, out = f.post(t, "/default/decode", body(t, enc[0], plain), auth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("decode: %d %s", resp.StatusCode, out)
	}
	for i, p := range decoded(t, out) {
		var s string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil || s != "20261126-7K3M9Q" {
			t.Errorf("payload %d = %q, %v", i, s, err)
		}
	}
}

func TestOldPayloadsDecodeAfterKeyRotation(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	old := encrypted(t, ring(t, k1), "written before the rotation")
	f := newFixture(t, ring(t, k2, k1)) // k2 active, k1 kept for reading
	resp, out := f.post(t, "/decode", body(t, old), map[string]string{"Authorization": "Bearer tok-sato"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("decode after rotation: %d %s", resp.StatusCode, out)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(decoded(t, out)[0], &s); err != nil || s != "written before the rotation" {
		t.Errorf("decoded %q, %v", s, err)
	}
	// New payloads are sealed with k2.
	resp, out = f.post(t, "/encode", body(t, decoded(t, out)[0]), map[string]string{"Authorization": "Bearer tok-sato"})
	if resp.StatusCode != http.StatusOK || string(decoded(t, out)[0].Metadata[codec.MetadataKeyID]) != "k2" {
		t.Errorf("encode after rotation: %d %s", resp.StatusCode, out)
	}
	// A ring that dropped k1 cannot read them, and says which key is missing.
	g := newFixture(t, ring(t, k2))
	resp, out = g.post(t, "/decode", body(t, old), map[string]string{"Authorization": "Bearer tok-sato"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(out), `"k1"`) {
		t.Errorf("decode without k1: %d %s, want 400 naming the key", resp.StatusCode, out)
	}
}

func TestCORSAdmitsOnlyTheUIOrigin(t *testing.T) {
	r := ring(t, key(t, "k1"))
	f := newFixture(t, r)
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, f.srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(uiOrigin)
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != uiOrigin ||
		h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Namespace") {
		t.Errorf("UI preflight: %d %v", resp.StatusCode, h)
	}
	for _, evil := range []string{"http://127.0.0.1:9999", "http://evil.example", "null", "http://127.0.0.1:8233.evil.example"} {
		resp := preflight(evil)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d ACAO=%q, want 403 without CORS headers", evil, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		p := encrypted(t, r, "secret")
		got, _ := f.post(t, "/decode", body(t, p), map[string]string{"Origin": evil, "Authorization": "Bearer tok-sato"})
		if got.StatusCode != http.StatusForbidden {
			t.Errorf("decode from %s: %d, want 403", evil, got.StatusCode)
		}
	}
	// The UI sees CORS headers on a 401 too, so it can show ciphertext rather than fail.
	got, _ := f.post(t, "/decode", body(t, encrypted(t, r, "x")), map[string]string{"Origin": uiOrigin})
	if got.StatusCode != http.StatusUnauthorized || got.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
		t.Errorf("unauthenticated UI call: %d %v", got.StatusCode, got.Header)
	}
	if _, err := New(Options{Codec: codec.New(r), Auth: f.accts, AllowedOrigins: []string{"*"}}); err == nil {
		t.Error("wildcard origin accepted")
	}
}

func TestBrowserSignInSetsAStrictHttpOnlySessionThatExpiresAndEndsWithTheAccount(t *testing.T) {
	r := ring(t, key(t, "k1"))
	f := newFixture(t, r)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := func(token string, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/signin", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := form("tok-guess", f.srv.URL); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("bad token sign-in: %d cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := form("tok-sato", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d, want 403", resp.StatusCode)
	}
	resp := form("tok-sato", f.srv.URL)
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			session = c
		}
	}
	if resp.StatusCode != http.StatusOK || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in: %d cookie %+v", resp.StatusCode, session)
	}
	if strings.Contains(session.Value, "tok-sato") {
		t.Error("the session cookie carries the staff token")
	}
	p := encrypted(t, r, "secret")
	cookie := map[string]string{"Cookie": CookieName + "=" + session.Value, "Origin": uiOrigin}
	if got, out := f.post(t, "/decode", body(t, p), cookie); got.StatusCode != http.StatusOK {
		t.Fatalf("decode with session: %d %s", got.StatusCode, out)
	}
	tampered := map[string]string{"Cookie": CookieName + "=" + strings.Replace(session.Value, "sato.", "gone.", 1)}
	if got, _ := f.post(t, "/decode", body(t, p), tampered); got.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered session: %d", got.StatusCode)
	}
	// Disabling the account ends the session at once.
	a := f.accts["tok-sato"]
	a.Disabled = true
	f.accts["tok-sato"] = a
	if got, _ := f.post(t, "/decode", body(t, p), cookie); got.StatusCode != http.StatusUnauthorized {
		t.Errorf("session of a disabled account: %d", got.StatusCode)
	}
	a.Disabled = false
	f.accts["tok-sato"] = a
	f.now = f.now.Add(9 * time.Hour)
	if got, _ := f.post(t, "/decode", body(t, p), cookie); got.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired session: %d", got.StatusCode)
	}
}

func TestWhoAmI(t *testing.T) {
	f := newFixture(t, ring(t, key(t, "k1")))
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/whoami", nil)
	req.Header.Set("Authorization", "Bearer tok-viewer")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var who map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&who)
	if resp.StatusCode != http.StatusOK || who["id"] != "suzuki" || who["role"] != "viewer" {
		t.Errorf("whoami = %d %v", resp.StatusCode, who)
	}
}
