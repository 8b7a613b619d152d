package component

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/rs/zerolog"

	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/services/codecserver"
	"madoguchi.dev/services/staff"
)

// CodecConfig configures the codec server (see README, "Staff runbook").
type CodecConfig struct {
	// Addr is where the codec server listens.
	Addr string `env:"CODEC_ADDR" envDefault:"127.0.0.1:8089"`
	// UIOrigins are the Temporal UI's browser origins allowed by CORS.
	UIOrigins []string `env:"CODEC_UI_ORIGINS" envDefault:"http://127.0.0.1:8233,http://localhost:8233" envSeparator:","`
	// UIURL is linked from the sign-in page.
	UIURL string `env:"CODEC_UI_URL" envDefault:"http://127.0.0.1:8233"`
	// StaffDatabaseURL holds the staff accounts.
	StaffDatabaseURL string `env:"STAFF_DATABASE_URL"`
	// CookieSecure marks the session cookie Secure (behind HTTPS).
	CookieSecure bool `env:"CODEC_COOKIE_SECURE"`
	// SessionKey (base64, ≥32 bytes) signs browser sessions; empty
	// generates one per start (sessions end on restart). Set it when
	// several replicas serve one endpoint.
	SessionKey string `env:"CODEC_SESSION_KEY"`
	// DecryptRoles are the staff roles whose accounts may decode payloads
	// (personal data); others are refused and see ciphertext.
	DecryptRoles []string `env:"CODEC_DECRYPT_ROLES" envDefault:"staff" envSeparator:","`
	// Listener overrides Addr (the dev stack binds before starting Temporal).
	Listener net.Listener `env:"-"`
}

// LoadCodecConfig reads the codec server's environment.
func LoadCodecConfig() (CodecConfig, error) {
	cc, err := env.ParseAs[CodecConfig]()
	if err != nil {
		return cc, fmt.Errorf("configuration: %w", err)
	}
	return cc, nil
}

// PrepareStaffDatabase applies the staff schema (accounts, audit log).
func PrepareStaffDatabase(ctx context.Context, dsn string) error {
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("staff database: %w", err)
	}
	defer pool.Close()
	return staff.NewStore(pool).Migrate(ctx)
}

// DevStaffID is the account the dev stack creates for the person running it.
const DevStaffID = "dev-staff"

// EnsureDevStaff makes sure the dev staff account exists and returns a
// working token for it, kept in file (DSRCTL_TOKEN=…, with the staff
// database, the codec endpoint and the staff signing key for dsrctl) when
// file is not "".
func EnsureDevStaff(ctx context.Context, dsn, codecURL, signingKey, file string) (string, error) {
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("staff database: %w", err)
	}
	defer pool.Close()
	st := staff.NewStore(pool)
	token, old := "", ""
	if file != "" {
		if b, err := os.ReadFile(file); err == nil {
			old = string(b)
			for _, line := range strings.Split(old, "\n") {
				if tok, ok := strings.CutPrefix(line, "DSRCTL_TOKEN="); ok {
					if _, err := st.Authenticate(ctx, tok); err == nil {
						token = tok
					}
				}
			}
		}
	}
	if token == "" {
		token, err = st.CreateAccount(ctx, DevStaffID, "Dev staff (make dev)", staff.RoleStaff)
		if errors.Is(err, staff.ErrAccountExists) {
			token, err = st.RotateToken(ctx, DevStaffID)
		}
		if err != nil {
			return "", err
		}
	}
	if file == "" {
		return token, nil
	}
	content := "# Dev staff credentials (make dev): source this file before using dsrctl.\n" +
		"DSRCTL_TOKEN=" + token + "\nSTAFF_DATABASE_URL=" + dsn + "\nDSRCTL_CODEC_ENDPOINT=" + codecURL +
		"\nMADOGUCHI_STAFF_SIGNING_KEY=" + signingKey + "\n"
	if content == old {
		return token, nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("store dev staff token: %w", err)
	}
	return token, nil
}

// RunCodecServer serves the Temporal remote codec for staff with this
// runtime's key ring and namespace.
func (rt *Runtime) RunCodecServer(ctx context.Context, cc CodecConfig) error {
	if err := rt.requireKeys("codec server", true, false); err != nil {
		return err
	}
	return RunCodecServer(ctx, rt.Ring, rt.Config.TemporalNamespace, cc, rt.Log)
}

// RunCodecServer serves the Temporal remote codec (POST /decode, /encode)
// for authenticated staff, with the browser sign-in page, until ctx ends.
func RunCodecServer(ctx context.Context, ring *seal.Ring, namespace string, cc CodecConfig, log zerolog.Logger) error {
	log = log.With().Str("component", "codec-server").Logger()
	if cc.StaffDatabaseURL == "" {
		return errors.New("codec server: STAFF_DATABASE_URL is not set")
	}
	pool, err := pgdb.Open(ctx, cc.StaffDatabaseURL)
	if err != nil {
		return fmt.Errorf("codec server: %w", err)
	}
	defer pool.Close()
	st := staff.NewStore(pool)
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("codec server: %w", err)
	}
	var sessionKey []byte
	if cc.SessionKey != "" {
		if sessionKey, err = base64.StdEncoding.DecodeString(cc.SessionKey); err != nil {
			return errors.New("codec server: CODEC_SESSION_KEY is not base64")
		}
	}
	var ns []string
	if namespace != "" {
		ns = []string{namespace}
	}
	var roles []staff.Role
	for _, r := range cc.DecryptRoles {
		role := staff.Role(strings.TrimSpace(r))
		if !role.Valid() {
			return fmt.Errorf("codec server: CODEC_DECRYPT_ROLES: unknown role %q", r)
		}
		roles = append(roles, role)
	}
	h, err := codecserver.New(codecserver.Options{Codec: codec.New(ring), Auth: st, Audit: st, DecryptRoles: roles, AllowedOrigins: cc.UIOrigins,
		Namespaces: ns, SessionKey: sessionKey, CookieSecure: cc.CookieSecure, UIURL: cc.UIURL, Log: log})
	if err != nil {
		return err
	}
	ln := cc.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cc.Addr); err != nil {
			return fmt.Errorf("codec server: listen: %w", err)
		}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Strs("ui_origins", cc.UIOrigins).Msg("codec server serving")
	select {
	case err := <-errc:
		return fmt.Errorf("codec server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
