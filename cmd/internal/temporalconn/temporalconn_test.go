package temporalconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// pki is a throwaway CA with a server certificate for "temporal.test".
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	server tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{ca: ca, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	certPEM, keyPEM := p.issue(t, "temporal.test", x509.ExtKeyUsageServerAuth)
	if p.server, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pki) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// mtlsServer accepts TLS connections that present a client certificate
// signed by the CA and records each client's common name.
type mtlsServer struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func (p *pki) serve(t *testing.T) *mtlsServer {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &mtlsServer{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil {
				s.mu.Lock()
				s.seen = append(s.seen, tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
				s.mu.Unlock()
			}
			c.Close()
		}
	}()
	return s
}

func (s *mtlsServer) clients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientFiles writes the CA and a client certificate for cn into a fresh
// directory, as a mounted Secret would hold them, and names them in Options.
func (p *pki) clientFiles(t *testing.T, cn string) Options {
	t.Helper()
	dir := t.TempDir()
	o := Options{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"),
		CAFile: filepath.Join(dir, "ca.crt"), ServerName: "temporal.test"}
	write(t, o.CAFile, p.caPEM)
	c, k := p.issue(t, cn, x509.ExtKeyUsageClientAuth)
	write(t, o.CertFile, c)
	write(t, o.KeyFile, k)
	return o
}

func TestClientCertificateIsPresentedAndARotatedOneIsPickedUpWithoutRestart(t *testing.T) {
	p := newPKI(t)
	srv := p.serve(t)
	o := p.clientFiles(t, "worker-1")

	cfg, err := o.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	handshake := func() error {
		conn, err := tls.Dial("tcp", srv.addr, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Handshake()
	}
	if err := handshake(); err != nil {
		t.Fatalf("mutual TLS handshake: %v", err)
	}
	// cert-manager rotates the Secret: the next connection uses the new pair.
	c, k := p.issue(t, "worker-2", x509.ExtKeyUsageClientAuth)
	write(t, o.CertFile, c)
	write(t, o.KeyFile, k)
	if err := handshake(); err != nil {
		t.Fatalf("handshake after rotation: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.clients()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := srv.clients(); len(got) != 2 || got[0] != "worker-1" || got[1] != "worker-2" {
		t.Errorf("server saw client certificates %v; want [worker-1 worker-2]", got)
	}
}

// The SDK client really carries the configuration: dialling the mTLS
// server (which is no Temporal, so the dial itself fails) presents the
// client certificate.
func TestApplyWiresTLSIntoTheTemporalClient(t *testing.T) {
	p := newPKI(t)
	srv := p.serve(t)
	o := p.clientFiles(t, "dsr-worker")
	co := client.Options{HostPort: srv.addr}
	if err := o.Apply(&co); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cl, err := client.DialContext(ctx, co); err == nil {
		cl.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.clients()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := srv.clients(); len(got) == 0 || got[0] != "dsr-worker" {
		t.Errorf("server saw %v; want the client certificate dsr-worker", got)
	}
}

func TestTLSOptionsAreCheckedAtStartUp(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t)
	c, k := p.issue(t, "w", x509.ExtKeyUsageClientAuth)
	write(t, filepath.Join(dir, "tls.crt"), c)
	write(t, filepath.Join(dir, "tls.key"), k)
	write(t, filepath.Join(dir, "junk.pem"), []byte("not a certificate"))
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"nothing set: plain connection (dev server)", Options{}, true},
		{"TLS with the system roots", Options{TLS: true}, true},
		{"certificate without its key", Options{CertFile: filepath.Join(dir, "tls.crt")}, false},
		{"missing certificate file", Options{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: filepath.Join(dir, "tls.key")}, false},
		{"CA file without a certificate", Options{CAFile: filepath.Join(dir, "junk.pem")}, false},
		{"API key implies TLS", Options{APIKey: "k"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			co := client.Options{}
			err := tc.o.Apply(&co)
			if (err == nil) != tc.ok {
				t.Fatalf("Apply = %v; want ok=%v", err, tc.ok)
			}
			if tc.ok && (co.ConnectionOptions.TLS != nil) != tc.o.Enabled() {
				t.Errorf("TLS set = %v; want %v", co.ConnectionOptions.TLS != nil, tc.o.Enabled())
			}
			if tc.o.APIKey != "" && co.Credentials == nil {
				t.Error("API key given but no credentials set")
			}
		})
	}
}

// Payloads are ciphertext: requests go uncompressed unless gzip is asked for.
func TestCompressionIsOffUnlessGzipIsAskedFor(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  any
	}{{"", &client.GrpcCompressionNone{}}, {"none", &client.GrpcCompressionNone{}}, {"gzip", &client.GrpcCompressionGzip{}}} {
		co := client.Options{}
		if err := (Options{Compression: tc.value}).Apply(&co); err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if fmt.Sprintf("%T", co.ConnectionOptions.GrpcCompression) != fmt.Sprintf("%T", tc.want) {
			t.Errorf("%q: compression %T; want %T", tc.value, co.ConnectionOptions.GrpcCompression, tc.want)
		}
	}
	if err := (Options{Compression: "zstd"}).Apply(&client.Options{}); err == nil {
		t.Error("an unknown compression was accepted")
	}
}
