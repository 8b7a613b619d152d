package intake_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"madoguchi.dev/services/intake"
)

func mustProxies(t *testing.T, spec string) []netip.Prefix {
	t.Helper()
	p, err := intake.ParseTrustedProxies(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A client is named by X-Forwarded-For only when the request comes from a
// trusted proxy, and then by the right-most address there that is not a
// proxy: what the client wrote itself (to the left) is never believed.
func TestClientAddrBelievesXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	trusted := mustProxies(t, "10.0.0.0/8, 2001:db8:ffff::/48")
	for _, c := range []struct {
		name, peer string
		xff        []string // header lines
		want       string
	}{
		{"proxy names the client", "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a spoofed entry left of the proxy's is ignored", "10.1.2.3:5000",
			[]string{"198.51.100.1, 203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"several header lines are one list", "10.1.2.3:5000",
			[]string{"198.51.100.1", "203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"every hop a proxy: the peer", "10.1.2.3:5000", []string{"10.9.9.9, 10.8.8.8"}, "10.1.2.3"},
		{"no header: the peer", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"empty header: the peer", "10.1.2.3:5000", []string{""}, "10.1.2.3"},
		{"empty elements are no hops", "10.1.2.3:5000", []string{"203.0.113.9, ,10.2.2.2,"}, "203.0.113.9"},
		{"garbled right end: the peer", "10.1.2.3:5000", []string{"203.0.113.9, not-an-ip"}, "10.1.2.3"},
		{"garbage left of the client does not matter", "10.1.2.3:5000", []string{"<script>, 203.0.113.9"}, "203.0.113.9"},
		{"an address with a port", "10.1.2.3:5000", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"an IPv6 address with a port", "10.1.2.3:5000", []string{"[2001:db8:1:2::7]:443"}, "2001:db8:1:2::7"},
		{"a mapped IPv4 address", "10.1.2.3:5000", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"a zone is refused", "10.1.2.3:5000", []string{"fe80::1%eth0"}, "10.1.2.3"},
		{"an IPv6 proxy", "[2001:db8:ffff::1]:443", []string{"2001:db8:1:2::7"}, "2001:db8:1:2::7"},
		{"a mapped proxy address", "[::ffff:10.1.2.3]:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"untrusted peer: its header is ignored", "192.0.2.50:5000", []string{"203.0.113.9"}, "192.0.2.50"},
		{"untrusted peer claiming to be a proxy", "192.0.2.50:5000", []string{"203.0.113.9, 10.1.2.3"}, "192.0.2.50"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/requests", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := intake.ClientAddr(r, trusted).String(); got != c.want {
			t.Errorf("%s: ClientAddr(peer %s, X-Forwarded-For %q) = %s, want %s", c.name, c.peer, c.xff, got, c.want)
		}
	}
	// Without trusted proxies the header is never read.
	r := httptest.NewRequest(http.MethodPost, "/requests", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := intake.ClientAddr(r, nil).String(); got != "10.1.2.3" {
		t.Errorf("no trusted proxies: ClientAddr = %s, want the peer", got)
	}
}

// The limiter's key: an IPv4 client by its address, an IPv6 client by its
// /64 (a host controls one), whether it comes directly or through a proxy.
func TestClientKeyGroupsIPv6ByPrefix(t *testing.T) {
	direct := intake.ProxyAwareClient(nil)
	for addr, want := range map[string]string{
		"192.0.2.7:5000":             "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":      "192.0.2.7",
	} {
		if got := direct(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("direct client %s: key %s, want %s", addr, got, want)
		}
	}
	proxied := intake.ProxyAwareClient(mustProxies(t, "10.0.0.0/8"))
	keyOf := func(xff string) string {
		r := httptest.NewRequest(http.MethodPost, "/requests", nil)
		r.RemoteAddr = "10.0.0.1:5000"
		r.Header.Set("X-Forwarded-For", xff)
		return proxied(r)
	}
	if a, b := keyOf("2001:db8:1:2::1"), keyOf("2001:db8:1:2:ffff:ffff:ffff:ffff"); a != b || a != "2001:db8:1:2::/64" {
		t.Errorf("one /64 through the proxy: keys %s and %s, want 2001:db8:1:2::/64", a, b)
	}
	if a, b := keyOf("2001:db8:1:2::1"), keyOf("2001:db8:1:3::1"); a == b {
		t.Errorf("two /64s share the key %s", a)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got := mustProxies(t, " 10.0.0.0/8,192.168.1.7 , 10.1.2.3/16,2001:db8::/32,,::ffff:172.16.0.0/108, ")
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "10.1.0.0/16", "2001:db8::/32", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("ParseTrustedProxies = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, got[i], want[i])
		}
	}
	if p := mustProxies(t, ""); len(p) != 0 {
		t.Errorf("empty spec = %v, want none", p)
	}
	for _, bad := range []string{"10.0.0.0/33", "ten.0.0.0/8", "10.0.0.0/8, 192.168.0.0/x", "fe80::1%eth0", "10.0.0.0-10.0.0.9"} {
		_, err := intake.ParseTrustedProxies(bad)
		if err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
			continue
		}
		entry := strings.TrimSpace(bad[strings.LastIndex(bad, ",")+1:])
		if !strings.Contains(err.Error(), `"`+entry+`"`) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want the bad entry %q named", bad, err, entry)
		}
	}
}

// Through the handler: behind a trusted proxy every client has its own
// bucket; a peer that is not a proxy is one client whatever it claims.
func TestRateLimitFollowsTheTrustedProxysClient(t *testing.T) {
	t.Parallel()
	s := newSiteWith(t, siteOptions{limits: intake.Limits{WritesPerMinute: 1, WriteBurst: 2,
		TrustedProxies: mustProxies(t, "10.0.0.0/8")}})
	h := s.handler
	post := func(peer, xff string) int {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/requests", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// Two clients behind the proxy, each with its own burst of 2.
	for _, client := range []string{"203.0.113.1", "203.0.113.2"} {
		for i := range 2 {
			if code := post("10.0.0.1:4000", "198.51.100.99, "+client); code == http.StatusTooManyRequests {
				t.Fatalf("client %s request %d through the proxy limited", client, i+1)
			}
		}
		if code := post("10.0.0.1:4000", client); code != http.StatusTooManyRequests {
			t.Errorf("client %s third request: %d, want 429", client, code)
		}
	}
	// A direct client: after its burst, no X-Forwarded-For gets it a new bucket.
	for i := range 2 {
		if code := post("192.0.2.50:4000", "203.0.113.100"); code == http.StatusTooManyRequests {
			t.Fatalf("direct request %d limited", i+1)
		}
	}
	for _, spoof := range []string{"", "203.0.113.101", "10.0.0.1", "203.0.113.102, 10.0.0.1"} {
		if code := post("192.0.2.50:4000", spoof); code != http.StatusTooManyRequests {
			t.Errorf("direct client spoofing X-Forwarded-For %q: %d, want 429", spoof, code)
		}
	}
	// Neither spoofed address was charged: they still have their burst.
	if code := post("10.0.0.1:4000", "203.0.113.101"); code == http.StatusTooManyRequests {
		t.Error("an address named only in a spoofed header was charged")
	}
}
