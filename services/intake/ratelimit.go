package intake

import (
	"container/list"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits are the per-client rate limits. Zero fields take the defaults.
type Limits struct {
	// Writes: submissions, codes, resends, withdrawals (every POST).
	WritesPerMinute float64
	WriteBurst      int
	// Reads: status, fee and download pages (secret links).
	ReadsPerMinute float64
	ReadBurst      int
	// MaxClients bounds the memory: the least recently seen client is
	// forgotten first.
	MaxClients int
	// TrustedProxies are the reverse proxies in front of the intake
	// (INTAKE_TRUSTED_PROXIES): only a request whose peer is one of them is
	// named by its X-Forwarded-For (ClientAddr).
	TrustedProxies []netip.Prefix
	// ClientKey names the client of a request; the default is ClientAddr
	// with TrustedProxies (an IPv6 client by its /64).
	ClientKey func(*http.Request) string
}

func (l Limits) withDefaults() Limits {
	if l.WritesPerMinute <= 0 {
		l.WritesPerMinute = 10
	}
	if l.WriteBurst <= 0 {
		l.WriteBurst = 30
	}
	if l.ReadsPerMinute <= 0 {
		l.ReadsPerMinute = 120
	}
	if l.ReadBurst <= 0 {
		l.ReadBurst = 60
	}
	if l.MaxClients <= 0 {
		l.MaxClients = 10000
	}
	if l.ClientKey == nil {
		l.ClientKey = ProxyAwareClient(l.TrustedProxies)
	}
	return l
}

// limiter is a token bucket per client in a bounded LRU.
type limiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	max     int
	clients map[string]*list.Element
	order   *list.List // front: most recently seen
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newLimiter(perMinute float64, burst, max int) *limiter {
	return &limiter{every: rate.Limit(perMinute / 60), burst: burst, max: max,
		clients: map[string]*list.Element{}, order: list.New()}
}

// allow takes a token for key; when there is none it says how long to wait.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c *bucket
	if e, ok := l.clients[key]; ok {
		l.order.MoveToFront(e)
		c = e.Value.(*bucket)
	} else {
		c = &bucket{key: key, lim: rate.NewLimiter(l.every, l.burst)}
		l.clients[key] = l.order.PushFront(c)
		for len(l.clients) > l.max {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.clients, oldest.Value.(*bucket).key)
		}
	}
	r := c.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
