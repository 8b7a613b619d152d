package intake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"madoguchi.dev/platform/seal"
)

// A grant lets one browser see a guarded disclosure package for a short
// while after the package's one-time code was entered. It is a cookie the
// intake seals with its own ring, bound to the package id and carrying its
// expiry, so that any replica can check it without state of its own: a
// forged or altered grant does not open, a grant made for another package
// does not open this one (the package id is the sealed record's additional
// data), and an old one has expired.

// GrantTTL is how long a grant lasts (never past the package's expiry).
const GrantTTL = 15 * time.Minute

// grantCookie names the grant cookie; its Path is the package's link.
const grantCookie = "madoguchi_download"

// grantAAD binds a grant to its package.
func grantAAD(packageID string) []byte { return []byte("madoguchi.download-grant.v1\x00" + packageID) }

type grant struct {
	PackageID string `json:"pkg"`
	Expires   int64  `json:"exp"`
}

var errNoGrant = errors.New("intake: no valid grant")

// sealGrant makes a grant for packageID that expires at exp.
func sealGrant(ring *seal.Ring, packageID string, exp time.Time) (string, error) {
	if ring == nil {
		return "", errNoGrant
	}
	plain, err := json.Marshal(grant{PackageID: packageID, Expires: exp.Unix()})
	if err != nil {
		return "", err
	}
	keyID, nonce, ct, err := ring.Seal(plain, grantAAD(packageID))
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return b64([]byte(keyID)) + "." + b64(nonce) + "." + b64(ct), nil
}

// openGrant checks a grant's value for packageID at now.
func openGrant(ring *seal.Ring, value, packageID string, now time.Time) error {
	parts := strings.Split(value, ".")
	if ring == nil || len(parts) != 3 || len(value) > 512 {
		return errNoGrant
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return errNoGrant
		}
		raw[i] = b
	}
	plain, err := ring.Open(string(raw[0]), raw[1], raw[2], grantAAD(packageID))
	if err != nil {
		return errNoGrant
	}
	var g grant
	if err := json.Unmarshal(plain, &g); err != nil || g.PackageID != packageID || !now.Before(time.Unix(g.Expires, 0)) {
		return errNoGrant
	}
	return nil
}

// granted reports whether r carries a valid grant for the package.
func (h *HTTP) granted(r *http.Request, packageID string) bool {
	for _, c := range r.Cookies() {
		if c.Name == grantCookie && openGrant(h.Ring, c.Value, packageID, h.now()) == nil {
			return true
		}
	}
	return false
}

// setGrant gives the browser a grant for the package behind token.
func (h *HTTP) setGrant(w http.ResponseWriter, r *http.Request, token, packageID string, packageExpires time.Time) error {
	now := h.now()
	exp := now.Add(GrantTTL)
	if !packageExpires.IsZero() && packageExpires.Before(exp) {
		exp = packageExpires
	}
	v, err := sealGrant(h.Ring, packageID, exp)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: grantCookie, Value: v, Path: "/download/" + token,
		Expires: exp, MaxAge: max(int(exp.Sub(now).Seconds()), 1), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: strings.HasPrefix(h.PublicURL, "https://") || r.TLS != nil})
	return nil
}
