// Package temporalconn holds how the processes reach a Temporal frontend
// beyond host and port: TLS with a client certificate (mutual TLS, as
// Temporal Cloud and most self-hosted clusters require) or an API key, and
// gRPC compression. The dev server needs no TLS; leave those empty there.
package temporalconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/caarlos0/env/v11"
	"go.temporal.io/sdk/client"
)

// Options are read from the environment (README, "Configuration").
type Options struct {
	// TLS turns TLS on with the system roots even without a client
	// certificate; any of the fields below turns it on too.
	TLS bool `env:"TEMPORAL_TLS"`
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS. They are read at every TLS handshake, so a certificate
	// rotated on disk (cert-manager, a mounted Secret) is picked up on the
	// next connection without a restart.
	CertFile string `env:"TEMPORAL_TLS_CERT"`
	KeyFile  string `env:"TEMPORAL_TLS_KEY"`
	// CAFile (PEM) replaces the system roots for verifying the server.
	CAFile string `env:"TEMPORAL_TLS_CA"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `env:"TEMPORAL_TLS_SERVER_NAME"`
	// APIKey authenticates to Temporal Cloud instead of a certificate; it
	// implies TLS.
	APIKey string `env:"TEMPORAL_API_KEY"`
	// Compression of gRPC requests: "none" (default) or "gzip" (the SDK's
	// default). Every payload Madoguchi sends is AES-GCM ciphertext, which
	// does not compress: gzip costs the worker CPU and saves nothing
	// (docs/performance.md).
	Compression string `env:"TEMPORAL_GRPC_COMPRESSION" envDefault:"none"`
}

// FromEnv reads Options from the environment.
func FromEnv() (Options, error) {
	o, err := env.ParseAs[Options]()
	if err != nil {
		return o, fmt.Errorf("temporal connection: %w", err)
	}
	return o, nil
}

// Enabled reports whether anything beyond a plain connection is asked for.
func (o Options) Enabled() bool {
	return o.TLS || o.CertFile != "" || o.KeyFile != "" || o.CAFile != "" || o.ServerName != "" || o.APIKey != ""
}

// TLSConfig builds the client TLS configuration; nil when TLS is off. The
// key pair is checked once here, so a bad path fails at start-up rather
// than at the first handshake.
func (o Options) TLSConfig() (*tls.Config, error) {
	if !o.Enabled() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("temporal connection: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
	}
	if o.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile); err != nil {
			return nil, fmt.Errorf("temporal connection: client certificate: %w", err)
		}
		certFile, keyFile := o.CertFile, o.KeyFile
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("temporal connection: client certificate: %w", err)
			}
			return &c, nil
		}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal connection: CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal connection: CA file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Apply sets TLS, credentials and compression on client options.
func (o Options) Apply(co *client.Options) error {
	switch o.Compression {
	case "", "none":
		co.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	case "gzip":
		co.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	default:
		return fmt.Errorf("temporal connection: TEMPORAL_GRPC_COMPRESSION %q: want none or gzip", o.Compression)
	}
	cfg, err := o.TLSConfig()
	if err != nil {
		return err
	}
	if cfg != nil {
		co.ConnectionOptions.TLS = cfg
	}
	if o.APIKey != "" {
		co.Credentials = client.NewAPIKeyStaticCredentials(o.APIKey)
	}
	return nil
}
