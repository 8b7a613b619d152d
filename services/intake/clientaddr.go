package intake

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a reverse proxy (an ingress controller, a load balancer) every
// request comes from the proxy's address: the per-client limits would put
// every person in one bucket. The proxy says whom it serves in
// X-Forwarded-For, appending the address it saw to what the client sent, so
// only the right-hand end of that header is the proxies' word: anything to
// the left may be the client's invention.

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes
// (INTAKE_TRUSTED_PROXIES): the proxies whose X-Forwarded-For is believed.
// A bare address stands for itself (/32, /128); empty entries are skipped.
func ParseTrustedProxies(spec string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if !strings.Contains(entry, "/") {
			a, err := netip.ParseAddr(entry)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("entry %q is not a CIDR prefix (such as 10.0.0.0/8) or an address", entry)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("entry %q is not a CIDR prefix (such as 10.0.0.0/8)", entry)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ClientAddr names the client of r: the TCP peer, unless the peer is a
// trusted proxy. Then it is the right-most address in X-Forwarded-For that is
// not itself a trusted proxy; when every address there is trusted, or the
// header is absent or cannot be read, it is the peer. An invalid peer
// address gives the zero Addr.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if strings.TrimSpace(hops[i]) == "" {
			continue // "a, , b" or a trailing comma: no hop
		}
		a, ok := parseHop(hops[i])
		if !ok {
			// What the nearest proxies wrote is garbled: nothing to its
			// left can be told from the client's own words.
			return peer
		}
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return peer
}

// peerAddr is the IP of a RemoteAddr ("host:port"), IPv4-mapped IPv6 unmapped.
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parseHop reads one X-Forwarded-For element: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:443"). A zone is refused: no proxy
// forwards one.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey keys an address for the limits: IPv4 by the address, IPv6 by
// the /64 a single host usually controls.
func clientKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ProxyAwareClient returns a Limits.ClientKey that names the client by
// ClientAddr with these trusted proxies (none: the remote address).
func ProxyAwareClient(trusted []netip.Prefix) func(*http.Request) string {
	return func(r *http.Request) string {
		a := ClientAddr(r, trusted)
		if !a.IsValid() {
			return r.RemoteAddr
		}
		return clientKey(a)
	}
}
