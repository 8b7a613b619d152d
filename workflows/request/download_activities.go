package request

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"madoguchi.dev/platform/onetime"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// The activities of disclosure packages delivered since
// ChangeIdentity202612. The download token is derived from the request's
// download secret by whichever activity needs it (StorePackage to name the
// object, SendNotice to write the link) and is never returned: history
// keeps the sealed secret, the package id (the token's hash) and the keyed
// MACs of the codes mailed, none of which opens the package.

// StoreInput asks for a disclosure package to be assembled and stored under
// the request's download token.
type StoreInput struct {
	PackageInput
	// Secret is the request's download secret (Prepared.DownloadSecret).
	Secret *dsrv1.Sealed `json:"secret"`
}

// StoredPackage names a package stored by StorePackage: its id and expiry,
// never its token.
type StoredPackage struct {
	// ID is the object name: hex SHA-256 of the token.
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StorePackage opens each holder's export and stores the sealed, guarded
// package under the request's download token. The token is the same on
// every retry, so a retry replaces the same object.
func (a *Activities) StorePackage(ctx context.Context, in StoreInput) (StoredPackage, error) {
	token, err := a.downloadToken(in.Secret, in.RequestID)
	if err != nil {
		return StoredPackage{}, err
	}
	pkg, err := a.assemble(in.PackageInput)
	if err != nil {
		return StoredPackage{}, err
	}
	id, err := a.packages().PutWithToken(ctx, pkg, token)
	if err != nil {
		return StoredPackage{}, fmt.Errorf("store package of %s: %w", in.RequestID, err)
	}
	return StoredPackage{ID: id, ExpiresAt: in.ExpiresAt}, nil
}

// downloadToken derives the request's download token; a secret that cannot
// be opened never will be (not retryable), a worker without its
// verification keys may be fixed (retryable).
func (a *Activities) downloadToken(secret *dsrv1.Sealed, requestID string) (string, error) {
	if secret == nil {
		return "", temporal.NewNonRetryableApplicationError("the request has no download secret", "NoSecret", nil)
	}
	token, err := a.Codes.Token(secret, onetime.Download, requestID)
	switch {
	case errors.Is(err, onetime.ErrNoRing):
		return "", fmt.Errorf("download token of %s: %w", requestID, err)
	case err != nil:
		return "", temporal.NewNonRetryableApplicationError("download secret cannot be opened", "SealError", err)
	}
	return token, nil
}

// DownloadCodeInput asks for a download code to be issued and e-mailed.
type DownloadCodeInput struct {
	PackageID string `json:"package_id"`
	RequestID string `json:"request_id"`
	Receipt   string `json:"receipt"`
	Locale    string `json:"locale"`
	// Personal resolves the address, as for the notice with the link.
	Personal *dsrv1.Sealed `json:"personal"`
	Secret   *dsrv1.Sealed `json:"secret"`
	// Issue numbers the package's codes (0 first).
	Issue     int       `json:"issue"`
	ExpiresAt time.Time `json:"expires_at"`
	// Kind and Jurisdiction of the request, for the notice's wording.
	Kind         string `json:"kind"`
	Jurisdiction string `json:"jurisdiction"`
}

// IssueDownloadCode e-mails code Issue of the package to the person (the
// address the link went to) and returns its keyed MAC; a retry mails the
// same code.
func (a *Activities) IssueDownloadCode(ctx context.Context, in DownloadCodeInput) ([]byte, error) {
	code, err := a.Codes.Code(in.Secret, onetime.Download, in.RequestID, in.Issue)
	if err != nil {
		return nil, codeError(in.RequestID, err)
	}
	mac, err := a.Codes.MAC(in.Secret, onetime.Download, in.RequestID, in.Issue, code)
	if err != nil {
		return nil, codeError(in.RequestID, err)
	}
	_, err = a.SendNotice(ctx, NoticeInput{ID: fmt.Sprintf("%s.download_code.%d", in.RequestID, in.Issue),
		Kind: NoticeDownloadCode, To: RecipientPerson, Receipt: in.Receipt, Locale: in.Locale, Personal: in.Personal,
		Data: NoticeData{Kind: in.Kind, Jurisdiction: in.Jurisdiction, ExpiresAt: in.ExpiresAt, Code: code}})
	if err != nil {
		return nil, err
	}
	return mac, nil
}

// CodeMACInput asks for the keyed MAC of a code typed in (verification:
// CodeDigest; a package: DownloadCodeMAC). Code is what the person typed,
// normalised; it is in the update's input already, and the MAC is useless
// without the secret.
type CodeMACInput struct {
	RequestID string        `json:"request_id"`
	Secret    *dsrv1.Sealed `json:"secret"`
	Issue     int           `json:"issue"`
	Code      string        `json:"code"`
}

// DownloadCodeMAC returns the keyed MAC of a (normalised) code for issue
// Issue, which the package's workflow compares with the one it keeps. It
// runs as a local activity: only its result, a MAC, enters history.
func (a *Activities) DownloadCodeMAC(_ context.Context, in CodeMACInput) ([]byte, error) {
	mac, err := a.Codes.MAC(in.Secret, onetime.Download, in.RequestID, in.Issue, in.Code)
	if err != nil {
		return nil, codeError(in.RequestID, err)
	}
	return mac, nil
}

func codeError(requestID string, err error) error {
	if errors.Is(err, onetime.ErrNoRing) {
		return fmt.Errorf("download code of %s: %w", requestID, err)
	}
	return temporal.NewNonRetryableApplicationError("download secret cannot be opened", "SealError", err)
}
