package request_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/platform/onetime"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// mailbox records the mails an Activities' Mailer is given.
type mailbox struct {
	mu    sync.Mutex
	mails []request.Mail
}

func (m *mailbox) Deliver(_ context.Context, mail request.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mails = append(m.mails, mail)
	return nil
}

func (m *mailbox) last(t *testing.T) request.Mail {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.mails) == 0 {
		t.Fatal("nothing was mailed")
	}
	return m.mails[len(m.mails)-1]
}

// The real activities on a real object store: the package is stored under
// a token that only the activities derive, the notice mails the link that
// opens it, and the codes mailed for it check by their MAC.
func TestTheDownloadActivitiesKeepTheTokenToThemselvesAndMailTheLinkAndCodesToThePerson(t *testing.T) {
	ctx := context.Background()
	_, js, ns := testinfra.NATS(t)
	ring := testinfra.Ring(t)
	mail := &mailbox{}
	acts := &request.Activities{JS: js, Namespace: ns, Ring: ring, Codes: onetime.Codes{Ring: testinfra.Ring(t)},
		Mailer: mail, Settings: request.Settings{PublicURL: "https://privacy.example.jp"}}
	secret, err := acts.Codes.NewSecret(onetime.Download, requestID)
	if err != nil {
		t.Fatal(err)
	}
	export, err := ring.Message(&dsrv1.Export{Holder: "members", Json: []byte(`{"name":"山田 花子"}`)})
	if err != nil {
		t.Fatal(err)
	}
	personal, err := ring.Message(&dsrv1.PersonalData{Subject: &dsrv1.Subject{Name: "山田 花子", Email: "hanako@example.jp"}})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(time.Hour).UTC()
	in := request.StoreInput{PackageInput: request.PackageInput{RequestID: requestID, Receipt: receipt, Locale: "ja",
		Kind: "disclosure", Exports: []*dsrv1.Sealed{export}, ExpiresAt: expires}, Secret: secret}
	ref, err := acts.StorePackage(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := acts.StorePackage(ctx, in)
	if err != nil || again.ID != ref.ID {
		t.Errorf("a retried store = %+v, %v; want the same package %s", again, err, ref.ID)
	}

	_, err = acts.SendNotice(ctx, request.NoticeInput{ID: requestID + ".completion.2", Kind: request.NoticeCompletion,
		To: request.RecipientPerson, Receipt: receipt, Locale: "ja", Personal: personal,
		Data: request.NoticeData{Kind: "disclosure", Jurisdiction: "JP", ExpiresAt: expires,
			DownloadLink: &request.DownloadLink{RequestID: requestID, Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	link := mail.last(t)
	token, ok := strings.CutPrefix(link.DownloadURL, "https://privacy.example.jp/download/")
	if link.To != "hanako@example.jp" || !ok || disclosure.ID(token) != ref.ID {
		t.Fatalf("completion mail to %q with link %q; want the person's address and the link of package %s", link.To, link.DownloadURL, ref.ID)
	}
	result, _ := json.Marshal(ref)
	if strings.Contains(string(result), token) {
		t.Errorf("StorePackage's result carries the token: %s", result)
	}
	store := &disclosure.Store{JS: js, Namespace: ns, Ring: ring}
	if p, err := store.Open(ctx, token, time.Now()); err != nil || !p.CodeRequired || p.Receipt != receipt {
		t.Errorf("the mailed link opens %+v, %v; want the guarded package", p, err)
	}

	code := request.DownloadCodeInput{PackageID: ref.ID, RequestID: requestID, Receipt: receipt, Locale: "ja",
		Personal: personal, Secret: secret, Issue: 0, ExpiresAt: time.Now().Add(15 * time.Minute), Kind: "disclosure", Jurisdiction: "JP"}
	mac, err := acts.IssueDownloadCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	m := mail.last(t)
	if m.Kind != request.NoticeDownloadCode || m.To != link.To || len(m.Data.Code) != 6 || m.DownloadURL != "" {
		t.Fatalf("code mail = %+v; want a 6-digit code to the address the link went to, without the link", m)
	}
	if retried, _ := acts.IssueDownloadCode(ctx, code); string(retried) != string(mac) || mail.last(t).Data.Code != m.Data.Code {
		t.Error("a retried code activity mailed another code")
	}
	if strings.Contains(string(mac), m.Data.Code) {
		t.Error("the MAC carries the code")
	}
	check := func(issue int, typed string) []byte {
		got, err := acts.DownloadCodeMAC(ctx, request.CodeMACInput{RequestID: requestID, Secret: secret, Issue: issue, Code: typed})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if string(check(0, m.Data.Code)) != string(mac) {
		t.Error("the mailed code does not check against its MAC")
	}
	wrong := "000000"
	if m.Data.Code == wrong {
		wrong = "111111"
	}
	if string(check(0, wrong)) == string(mac) || string(check(1, m.Data.Code)) == string(mac) {
		t.Error("a wrong code, or the code for another issue, checks")
	}

	// Another request's secret does not name this request's package.
	other, _ := acts.Codes.NewSecret(onetime.Download, "req-2")
	in.Secret = other
	var app *temporal.ApplicationError
	if _, err := acts.StorePackage(ctx, in); !errors.As(err, &app) || !app.NonRetryable() {
		t.Errorf("StorePackage with another request's secret = %v; want a non-retryable refusal", err)
	}
}

// Exports are sealed under the command ring, which the holders share with
// the worker alone, and bound to their request and holder: one moved to
// another request, or passed off as another holder's, does not open.
func TestAnExportMovedToAnotherRequestOrHolderDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	_, js, ns := testinfra.NATS(t)
	payload, commands := testinfra.Ring(t), testinfra.Ring(t)
	acts := &request.Activities{JS: js, Namespace: ns, Ring: payload, Commands: commands,
		Codes: onetime.Codes{Ring: testinfra.Ring(t)}}
	secret, err := acts.Codes.NewSecret(onetime.Download, requestID)
	if err != nil {
		t.Fatal(err)
	}
	sealFor := func(ring *seal.Ring, req, holder string) *dsrv1.Sealed {
		s, err := ring.MessageFor(&dsrv1.Export{Holder: holder, Json: []byte(`{"name":"山田 花子"}`)}, contract.ExportScope(req, holder))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	store := func(ex *dsrv1.Sealed, holder string) error {
		_, err := acts.StorePackage(ctx, request.StoreInput{PackageInput: request.PackageInput{RequestID: requestID, Receipt: receipt,
			Locale: "ja", Kind: "disclosure", Exports: []*dsrv1.Sealed{ex}, ExportHolders: []string{holder},
			ExpiresAt: time.Now().Add(time.Hour)}, Secret: secret})
		return err
	}
	if err := store(sealFor(commands, requestID, "members"), "members"); err != nil {
		t.Fatalf("the request's own export: %v", err)
	}
	for name, ex := range map[string]*dsrv1.Sealed{
		"another request's export":     sealFor(commands, "req-other", "members"),
		"billing's export as members'": sealFor(commands, requestID, "billing"),
		"sealed with the payload ring": sealFor(payload, requestID, "members"),
	} {
		if err := store(ex, "members"); err == nil {
			t.Errorf("%s went into the package", name)
		}
	}
}
