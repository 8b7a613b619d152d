package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// The intake limits writes per client address (10 a minute, burst 30), as
// it must in production. Real load at hundreds of requests a second comes
// from many people, so the bench gives each virtual client its own loopback
// source address (127.x.y.z: Linux routes all of 127/8 to lo) and sends at
// most requestsPerIdentity requests from it, below the burst: every request
// still passes through the limiter, none is refused by it.
const requestsPerIdentity = 20

// identities hands out distinct loopback addresses (127.1.0.1 upwards).
var identities atomic.Uint32

func nextLoopback() net.IP {
	n := identities.Add(1)
	// 127.1.0.1 … 127.254.255.254: about 16 million addresses.
	n = n%(254*65536-2) + 65536 + 1
	ip := net.IPv4(127, byte(n>>16), byte(n>>8), byte(n))
	if ip[15] == 0 || ip[15] == 255 {
		return nextLoopback()
	}
	return ip
}

// webClient is one virtual client after another: a keep-alive connection from
// one loopback address, replaced after requestsPerIdentity requests.
type webClient struct {
	base string
	hc   *http.Client
	used int
}

func newClient(base string) *webClient { return &webClient{base: base} }

func (c *webClient) rotate() {
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: nextLoopback()}, Timeout: 5 * time.Second}
	c.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConnsPerHost: 1, DisableCompression: true,
	}}
	c.used = 0
}

func (c *webClient) close() {
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}

// accepted is the intake's 202 answer.
type accepted struct {
	ID      string `json:"id"`
	Receipt string `json:"receipt"`
}

// submit POSTs one request and returns the HTTP status.
func (c *webClient) submit(ctx context.Context, body, key string) (int, accepted, error) {
	if c.hc == nil || c.used >= requestsPerIdentity {
		c.rotate()
	}
	c.used++
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/requests", strings.NewReader(body))
	if err != nil {
		return 0, accepted{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, accepted{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a accepted
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(raw, &a); err != nil {
			return resp.StatusCode, a, fmt.Errorf("202 body: %w", err)
		}
	}
	return resp.StatusCode, a, nil
}

// deletionBody is a valid JSON deletion request about an unknown person with
// the given e-mail address (holders answer NOT_FOUND after looking).
func deletionBody(email, memberID string) string {
	b, _ := json.Marshal(map[string]any{
		"kind": "deletion", "jurisdiction": "JP", "locale": "ja",
		"subject": map[string]string{"name": "性能 試験", "email": email, "member_id": memberID},
		"details": "退会したので全て削除してください（性能測定）",
	})
	return string(b)
}
