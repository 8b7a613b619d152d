package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"madoguchi.dev/cmd/internal/temporalconn"
	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/services/staff"
)

// Dial connects to Temporal (with the payload codec: the local key ring, or
// the codec server authenticated with the staff token) and to the staff
// database, and signs actions with the staff signing key when it is given
// (reads need none).
func Dial(ctx context.Context, c Conn) (Backend, func(), error) {
	if c.StaffDatabaseURL == "" {
		return nil, nil, errors.New("STAFF_DATABASE_URL (or --staff-db) is required: staff tokens and the audit log live there")
	}
	var signer *staffsig.Signer
	if c.SigningKey != "" {
		var err error
		if signer, err = staffsig.ParseSigningKey(c.SigningKey); err != nil {
			return nil, nil, fmt.Errorf("MADOGUCHI_STAFF_SIGNING_KEY: %w", err)
		}
	}
	dc, err := DataConverter(c)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgdb.Open(ctx, c.StaffDatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("staff database: %w", err)
	}
	co := client.Options{HostPort: c.Temporal, Namespace: c.Namespace, DataConverter: dc, Logger: quiet{}}
	conn, err := temporalconn.FromEnv()
	if err == nil {
		err = conn.Apply(&co)
	}
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	tc, err := client.DialContext(ctx, co)
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("Temporal at %s: %w", c.Temporal, err)
	}
	return &staff.Service{Temporal: tc, Store: staff.NewStore(pool), Signer: signer}, func() { tc.Close(); pool.Close() }, nil
}

// DataConverter encrypts update arguments and decrypts query answers.
func DataConverter(c Conn) (converter.DataConverter, error) {
	if c.Keys != "" {
		ring, err := seal.ParseRing(c.Keys)
		if err != nil {
			return nil, fmt.Errorf("MADOGUCHI_KEYS: %w", err)
		}
		return codec.DataConverter(ring), nil
	}
	if c.CodecEndpoint != "" {
		token, ns := c.Token, c.Namespace
		return converter.NewRemoteDataConverter(converter.GetDefaultDataConverter(), converter.RemoteDataConverterOptions{
			Endpoint: c.CodecEndpoint,
			ModifyRequest: func(r *http.Request) error {
				r.Header.Set("Authorization", "Bearer "+token)
				r.Header.Set("X-Namespace", ns)
				return nil
			},
		}), nil
	}
	return nil, errors.New("set MADOGUCHI_KEYS or DSRCTL_CODEC_ENDPOINT (--codec-endpoint): payloads are encrypted")
}

// OpenStore opens the staff store for account management.
func OpenStore(ctx context.Context, dsn string) (*staff.Store, func(), error) {
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("staff database: %w", err)
	}
	st := staff.NewStore(pool)
	if err := st.Migrate(ctx); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return st, pool.Close, nil
}

type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
