package main

import (
	"bufio"
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
//
// It writes each request with http.Request.Write and reads the answer with
// http.ReadResponse on its own connection, instead of going through an
// http.Client: the load generator shares two cores with the intake it
// measures, and net/http's transport (two goroutines per connection, a
// channel hand-off each way per request) costs as much CPU as the intake's
// handler (docs/performance.md), all of it taken from the intake's figure.
type webClient struct {
	base, host string
	conn       net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	used       int
}

func newClient(base string) *webClient {
	return &webClient{base: base, host: strings.TrimPrefix(base, "http://")}
}

func (c *webClient) rotate(ctx context.Context) error {
	c.close()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: nextLoopback()}, Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.host)
	if err != nil {
		return err
	}
	c.conn, c.br, c.bw, c.used = conn, bufio.NewReader(conn), bufio.NewWriter(conn), 0
	return nil
}

func (c *webClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// accepted is the intake's 202 answer.
type accepted struct {
	ID      string `json:"id"`
	Receipt string `json:"receipt"`
}

// submit POSTs one request and returns the HTTP status. A request that
// fails on a connection used before is sent once more on a new one, as
// net/http does for a request with an Idempotency-Key (the server may have
// closed the idle connection; the key makes a second delivery harmless).
func (c *webClient) submit(ctx context.Context, body, key string) (int, accepted, error) {
	reused := c.conn != nil && c.used > 0 && c.used < requestsPerIdentity
	code, a, err := c.try(ctx, body, key)
	if err != nil && reused && ctx.Err() == nil {
		c.close()
		code, a, err = c.try(ctx, body, key)
	}
	return code, a, err
}

func (c *webClient) try(ctx context.Context, body, key string) (int, accepted, error) {
	if c.conn == nil || c.used >= requestsPerIdentity {
		if err := c.rotate(ctx); err != nil {
			return 0, accepted{}, err
		}
	}
	c.used++
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/requests", strings.NewReader(body))
	if err != nil {
		return 0, accepted{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Now()) })
	defer stop()
	resp, err := c.roundTrip(req)
	if err != nil {
		c.close()
		return 0, accepted{}, err
	}
	if resp.Close {
		c.close()
	}
	var a accepted
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(resp.body, &a); err != nil {
			return resp.StatusCode, a, fmt.Errorf("202 body: %w", err)
		}
	}
	return resp.StatusCode, a, nil
}

// response is what submit needs of an answer, its body read in full (the
// connection is ready for the next request).
type response struct {
	StatusCode int
	Close      bool
	body       []byte
}

func (c *webClient) roundTrip(req *http.Request) (response, error) {
	if err := req.Write(c.bw); err != nil {
		return response{}, err
	}
	if err := c.bw.Flush(); err != nil {
		return response{}, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{StatusCode: resp.StatusCode, Close: resp.Close, body: raw}, nil
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
