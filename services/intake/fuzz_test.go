package intake_test

// Fuzz tests for what a person (or anyone on the internet) can send the
// intake: the JSON API (POST /api/v1/requests: JSON or multipart), the HTML
// form (POST /requests: urlencoded or multipart) and the document uploads
// both carry. They drive the real handler (intake.HTTP with the real
// Service) over a real PostgreSQL database created once per fuzzing process,
// so valid inputs are stored as they would be.
//
// Properties: no panic; the API answers 202 or 400/413/415/422 with a JSON
// error body, the form 200/400/409/422 with a whole HTML page — never 5xx
// (the database is healthy, so a 503 means an input the intake cannot
// store); nothing is logged at error level; what is accepted is stored with
// its personal data and files sealed, and an idempotent retry returns it.
//
//	go test -run='^$' -fuzz=FuzzAPISubmission -fuzztime=20s ./services/intake/
//	go test -run='^$' -fuzz=FuzzFormSubmission -fuzztime=20s ./services/intake/
//	go test -run='^$' -fuzz=FuzzUpload -fuzztime=20s ./services/intake/
//
// Inputs that exposed bugs are kept in testdata/fuzz/<FuzzName>/ and run
// with every `go test`: one that breaks again fails the run.

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	"madoguchi.dev/services/intake"
	"madoguchi.dev/services/intake/migrations"
)

var (
	fzReceiptRE = regexp.MustCompile(`^20[0-9]{6}-[0-9A-HJKMNP-TV-Z]{6}$`)
	fzUUIDRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// fzLog collects the handler's log lines of one fuzz iteration.
type fzLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *fzLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *fzLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// fzIntake is the intake's handler on a real database.
type fzIntake struct {
	h    http.Handler
	pool *pgxpool.Pool
	log  *fzLog
}

func newFzIntake(f *testing.F) *fzIntake {
	f.Helper()
	pool := testinfra.Pool(f, "t_intakefuzz", migrations.FS)
	ns, err := contract.NewNamespace(testinfra.UniqueName("t"))
	if err != nil {
		f.Fatal(err)
	}
	l := &fzLog{}
	log := zerolog.New(l)
	svc := &intake.Service{Pool: pool, Ring: testinfra.Ring(f), Namespace: ns, Log: log}
	h := &intake.HTTP{Service: svc, Pool: pool, Log: log, ReceiptWait: -1,
		Limits: intake.Limits{WritesPerMinute: 1e12, WriteBurst: 1 << 40, ReadsPerMinute: 1e12, ReadBurst: 1 << 40}}
	return &fzIntake{h: h.Handler(), pool: pool, log: l}
}

// fzHeaderOK: what net/http's server lets through as a header value (no
// control characters but tab; bytes >= 0x80 are allowed). Anything else is
// refused before a handler runs.
func fzHeaderOK(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func (x *fzIntake) do(method, path, contentType string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.RemoteAddr = "192.0.2.10:40000"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, strings.Trim(v, " \t")) // textproto trims values
		}
	}
	rec := httptest.NewRecorder()
	x.h.ServeHTTP(rec, req)
	return rec
}

// checkLog fails on any error-level line: with a healthy database an input
// alone must never make the intake log an error.
func (x *fzIntake) checkLog(t *testing.T) {
	t.Helper()
	for _, line := range strings.Split(x.log.take(), "\n") {
		if strings.Contains(line, `"level":"error"`) {
			t.Errorf("handler logged an error: %s", line)
		}
	}
}

func (x *fzIntake) requestRow(t *testing.T, id string) (sealed []byte, ok bool) {
	t.Helper()
	err := x.pool.QueryRow(context.Background(), "SELECT personal_sealed FROM requests WHERE id = $1", id).Scan(&sealed)
	return sealed, err == nil
}

type fzAPIAnswer struct {
	ID      string            `json:"id"`
	Receipt string            `json:"receipt"`
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

// checkAPIAnswer checks the API's contract for one response and returns it.
func checkAPIAnswer(t *testing.T, rec *httptest.ResponseRecorder) fzAPIAnswer {
	t.Helper()
	var a fzAPIAnswer
	switch rec.Code {
	case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
	default:
		t.Fatalf("API answered %d: %s", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("API answered %d with Content-Type %q", rec.Code, ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("API answer %d is not a JSON object: %v: %q", rec.Code, err, rec.Body.String())
	}
	if rec.Code == http.StatusAccepted {
		if !fzUUIDRE.MatchString(a.ID) || !fzReceiptRE.MatchString(a.Receipt) {
			t.Fatalf("202 with id %q receipt %q", a.ID, a.Receipt)
		}
		return a
	}
	if a.Error == "" || a.Message == "" {
		t.Fatalf("%d without an error code and message: %q", rec.Code, rec.Body.String())
	}
	if a.Error == "validation_failed" && len(a.Fields) == 0 {
		t.Fatalf("validation_failed without fields")
	}
	return a
}

var fzValidJSON = `{"kind":"deletion","jurisdiction":"JP","locale":"ja","subject":{"name":"山田 花子","name_kana":"やまだ はなこ","email":"hanako@example.jp","phone":"090-1234-5678","member_id":"M-1001"},"details":"退会したので全て削除してください"}`

// FuzzAPISubmission: arbitrary bodies, content types, idempotency keys and
// Accept-Language on POST /api/v1/requests.
func FuzzAPISubmission(f *testing.F) {
	agent := `{"kind":"disclosure","subject":{"name":"山田 花子","email":"hanako@example.jp"},"agent":{"name":"山田 一郎","email":"ichiro@example.jp","relationship":"legal_representative"}}`
	for _, s := range []struct{ body, ct, key, lang string }{
		{fzValidJSON, "application/json", "", "ja"},
		{fzValidJSON, "application/json; charset=utf-8", "fz-key-1", "en"},
		{fzValidJSON, "", "", ""},
		{fzValidJSON, "text/plain", "", ""},
		{`{"kind":"shred","subject":{"name":"","email":"not-an-address"}}`, "application/json", "", "ja"},
		{`{"kind":"correction","locale":"xx","subject":{"name":"a","email":"a@b.jp","name_kana":"ABC","phone":"x","member_id":"!"}}`, "application/json", "", ""},
		{`{"kind":"deletion","subject":{"name":"a","email":"a@b.jp"},"extra":1}`, "application/json", "", ""},
		{`{"kind":"deletion","subject":{"name":"a","email":"a@b.jp"}}{}`, "application/json", "", ""},
		{`{"kind":1}`, "application/json", "", ""},
		{`[]`, "application/json", "", ""},
		{``, "application/json", "", ""},
		{`{"kind":"ｄｅｌｅｔｉｏｎ","subject":{"name":"ﾔﾏﾀﾞ","email":"ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ","phone":"０９０-１２３４-５６７８"}}`, "application/json", "", ""},
		{agent, "application/json", "", ""},
		{`{"kind":"deletion","subject":{"name":"a\u0000b","email":"a@b.jp"},"details":"\u0000"}`, "application/json", "", ""},
		{"{\"kind\":\"deletion\",\"subject\":{\"name\":\"\xff\xfe\",\"email\":\"a@b.jp\"}}", "application/json", "", ""},
		{"--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" + fzValidJSON + "\r\n--b--\r\n", "multipart/form-data; boundary=b", "", ""},
		{"--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n", "multipart/form-data; boundary=b", "", ""},
		{"garbage", "multipart/form-data", "", ""},
		{fzValidJSON, "application/json", strings.Repeat("k", 201), ""},
		// A key net/http accepts (obs-text) that the database cannot store.
		{fzValidJSON, "application/json", "caf\xe9", ""},
		{`{"kind":"deletion","subject":{"name":"a","email":"a@b.jp"},"details":"` + strings.Repeat("x", 70000) + `"}`, "application/json", "", ""},
	} {
		f.Add(s.body, s.ct, s.key, s.lang)
	}
	x := newFzIntake(f)

	f.Fuzz(func(t *testing.T, body, contentType, key, lang string) {
		if !fzHeaderOK(contentType) || !fzHeaderOK(key) || !fzHeaderOK(lang) {
			return
		}
		x.log.take()
		hdr := map[string]string{"Idempotency-Key": key, "Accept-Language": lang}
		rec := x.do(http.MethodPost, "/api/v1/requests", contentType, []byte(body), hdr)
		logs := x.log.take()
		if rec.Code >= 500 {
			t.Logf("log: %s", logs)
		}
		a := checkAPIAnswer(t, rec)
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"level":"error"`) {
				t.Errorf("handler logged an error: %s", line)
			}
		}

		// The decode → Normalise → Validate path the handler uses: Normalise
		// is idempotent, so a stored submission validates the same again.
		var sub, twice intake.Submission
		if json.Unmarshal([]byte(body), &sub) == nil && json.Unmarshal([]byte(body), &twice) == nil {
			sub.Normalise()
			twice.Normalise()
			twice.Normalise()
			a, _ := json.Marshal(sub)
			b, _ := json.Marshal(twice)
			if !bytes.Equal(a, b) {
				t.Errorf("Normalise is not idempotent:\n once  %s\n twice %s", a, b)
			}
		}

		if rec.Code != http.StatusAccepted {
			return
		}
		sealed, ok := x.requestRow(t, a.ID)
		if !ok {
			t.Fatalf("202 for request %s, but no row stored", a.ID)
		}
		if sub.Subject.Email != "" && len(sub.Subject.Email) >= 6 && bytes.Contains(sealed, []byte(sub.Subject.Email)) {
			t.Fatalf("the stored personal data holds the e-mail in plaintext")
		}
		if k := strings.Trim(key, " \t"); k != "" {
			again := x.do(http.MethodPost, "/api/v1/requests", contentType, []byte(body), hdr)
			b := checkAPIAnswer(t, again)
			if again.Code != http.StatusAccepted || b.ID != a.ID || again.Header().Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry with the same Idempotency-Key = %d %+v (replayed %q), want request %s again",
					again.Code, b, again.Header().Get("Idempotent-Replayed"), a.ID)
			}
		}
		x.checkLog(t)
	})
}

// checkFormAnswer checks the form's contract for one response.
func checkFormAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
	default:
		t.Fatalf("form answered %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("form answered %d with Content-Type %q", rec.Code, ct)
	}
	if !strings.Contains(rec.Body.String(), "</html>") {
		t.Fatalf("form answered %d with an incomplete page (%d bytes)", rec.Code, rec.Body.Len())
	}
}

func fzFormBody(vals url.Values) string { return vals.Encode() }

// FuzzFormSubmission: arbitrary bodies on POST /requests, sent as the
// browser sends the form (urlencoded or multipart) or with any content type.
func FuzzFormSubmission(f *testing.F) {
	valid := url.Values{"locale": {"ja"}, "form_token": {"0123456789abcdef"}, "kind": {"deletion"}, "name": {"山田 花子"},
		"email": {"hanako@example.jp"}, "phone": {"090-1234-5678"}, "details": {"削除してください"}}
	agent := url.Values{"locale": {"en"}, "kind": {"disclosure"}, "name": {"Emily Clark"}, "email": {"emily@example.com"},
		"as_agent": {"on"}, "agent_name": {"John Clark"}, "agent_email": {"john@example.com"}, "agent_relationship": {"appointed_proxy"},
		"kept_authority": {strings.Repeat("ab", 32)}}
	for _, s := range []struct {
		body  string
		ctSel uint8
		ct    string
	}{
		{fzFormBody(valid), 0, ""},
		{fzFormBody(agent), 0, ""},
		{"kind=shred&email=x&locale=en", 0, ""},
		{"%zz", 0, ""},
		{"", 0, ""},
		{"--fzb\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ndeletion\r\n--fzb\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nhanako@example.jp\r\n--fzb--\r\n", 1, ""},
		{"--fzb\r\nContent-Disposition: form-data; name=\"doc_authority\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4\r\n--fzb--\r\n", 1, ""},
		{"--fzb\r\n\r\n", 1, ""},
		{fzFormBody(valid), 2, "text/plain"},
		{fzFormBody(valid), 2, "multipart/form-data"},
		// Form tokens the database cannot store (not UTF-8; NUL).
		{"kind=deletion&name=a&email=a%40b.jp&form_token=%E9", 0, ""},
		{"kind=deletion&name=a&email=a%40b.jp&form_token=a%00", 0, ""},
		// A name sent in Shift_JIS (山田), as legacy clients do.
		{"kind=deletion&name=%8ER%93c&email=a%40b.jp", 0, ""},
	} {
		f.Add(s.body, s.ctSel, s.ct)
	}
	x := newFzIntake(f)

	f.Fuzz(func(t *testing.T, body string, ctSel uint8, rawCT string) {
		ct := "application/x-www-form-urlencoded"
		switch ctSel % 3 {
		case 1:
			ct = "multipart/form-data; boundary=fzb"
		case 2:
			if !fzHeaderOK(rawCT) {
				return
			}
			ct = rawCT
		}
		x.log.take()
		rec := x.do(http.MethodPost, "/requests", ct, []byte(body), nil)
		logs := x.log.take()
		if rec.Code >= 500 {
			t.Logf("log: %s", logs)
		}
		checkFormAnswer(t, rec)
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"level":"error"`) {
				t.Errorf("handler logged an error: %s", line)
			}
		}
	})
}

// fzMultipart builds a multipart body: text fields, then one file part.
func fzMultipart(t testing.TB, fields [][2]string, fileField, fileName, partCT string, content []byte) (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	h := textproto.MIMEHeader{}
	disp := mime.FormatMediaType("form-data", map[string]string{"name": fileField, "filename": fileName})
	if disp == "" {
		disp = mime.FormatMediaType("form-data", map[string]string{"name": fileField, "filename": "file"})
	}
	h.Set("Content-Disposition", disp)
	if partCT != "" && fzHeaderOK(partCT) {
		h.Set("Content-Type", partCT)
	}
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Write(content)
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

var fzAllowedTypes = map[string]bool{"application/pdf": true, "image/jpeg": true, "image/png": true}

// FuzzUpload: any file content, purpose, file name and declared type, sent
// with an otherwise valid agent filing through the API (multipart) or the
// form. A file is accepted only for what its bytes are (PDF, JPEG, PNG),
// never for its name or declared type, and is stored sealed.
func FuzzUpload(f *testing.F) {
	for _, s := range []struct {
		content         []byte
		purpose, name   string
		partCT          string
		viaForm, asAgnt bool
	}{
		{[]byte("%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF"), "authority", "委任状.pdf", "application/pdf", false, true},
		{[]byte("%PDF-1.4\n"), "authority", "a.pdf", "", true, true},
		{[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "authority", "id.png", "image/png", false, true},
		{[]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "agent_id", "id.jpg", "image/jpeg", true, true},
		{[]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "authority", "id.jpg", "image/jpeg", true, false},
		{[]byte("<html><script>alert(1)</script>"), "authority", "evil.pdf", "application/pdf", false, true},
		{[]byte("MZ\x90\x00"), "authority", "a.exe", "application/pdf", true, true},
		{[]byte{}, "authority", "empty.pdf", "application/pdf", false, true},
		{[]byte("%PDF-1.4\n"), "passport", "p.pdf", "", false, true},
		{[]byte("%PDF-1.4\n"), "authority", "", "", false, true},
		{[]byte("%PDF-1.4\n"), "authority", "../../etc/passwd", "", true, true},
	} {
		f.Add(s.content, s.purpose, s.name, s.partCT, s.viaForm, s.asAgnt)
	}
	x := newFzIntake(f)

	f.Fuzz(func(t *testing.T, content []byte, purpose, fileName, partCT string, viaForm, asAgent bool) {
		x.log.take()
		sniffed := ""
		if len(content) > 0 {
			sniffed = http.DetectContentType(content)
		}
		goodFile := len(content) > 0 && len(content) <= intake.MaxDocumentSize && fzAllowedTypes[sniffed]
		var rec *httptest.ResponseRecorder
		var wantOK bool
		if viaForm {
			fields := [][2]string{{"locale", "en"}, {"kind", "disclosure"}, {"name", "Emily Clark"}, {"email", "emily@example.com"}}
			if asAgent {
				fields = append(fields, [][2]string{{"as_agent", "on"}, {"agent_name", "John Clark"},
					{"agent_email", "john@example.com"}, {"agent_relationship", "appointed_proxy"}}...)
			}
			ct, body := fzMultipart(t, fields, "doc_"+purpose, fileName, partCT, content)
			rec = x.do(http.MethodPost, "/requests", ct, body, nil)
			checkFormAnswer(t, rec)
			// Without "as agent" the files are ignored; as an agent the
			// authority document is required and must be a good file.
			wantOK = !asAgent || (purpose == intake.DocAuthority && goodFile)
			if wantOK != (rec.Code == http.StatusOK) {
				t.Fatalf("form with a %d-byte %q file as %q (agent %v) answered %d", len(content), sniffed, purpose, asAgent, rec.Code)
			}
		} else {
			req := `{"kind":"disclosure","subject":{"name":"Emily Clark","email":"emily@example.com"}}`
			if asAgent {
				req = `{"kind":"disclosure","subject":{"name":"Emily Clark","email":"emily@example.com"},"agent":{"name":"John Clark","email":"john@example.com","relationship":"appointed_proxy"}}`
			}
			ct, body := fzMultipart(t, [][2]string{{"request", req}}, "doc_"+purpose, fileName, partCT, content)
			rec = x.do(http.MethodPost, "/api/v1/requests", ct, body, nil)
			a := checkAPIAnswer(t, rec)
			known := purpose == intake.DocAuthority || purpose == intake.DocAgentID
			// A document for a filing without an agent is refused; an agent
			// needs a good authority document.
			wantOK = (!asAgent && !known) || (asAgent && purpose == intake.DocAuthority && goodFile)
			if wantOK != (rec.Code == http.StatusAccepted) {
				t.Fatalf("API with a %d-byte %q file as %q (agent %v) answered %d %+v", len(content), sniffed, purpose, asAgent, rec.Code, a)
			}
			if rec.Code == http.StatusAccepted && asAgent {
				var ctype string
				var size int
				var sealed []byte
				err := x.pool.QueryRow(context.Background(), `SELECT content_type, size_bytes, sealed FROM uploads WHERE request_id = $1 AND purpose = $2`,
					a.ID, purpose).Scan(&ctype, &size, &sealed)
				if err != nil {
					t.Fatalf("accepted upload not stored: %v", err)
				}
				if ctype != sniffed || size != len(content) {
					t.Fatalf("stored upload %q %d bytes, sent %q %d bytes", ctype, size, sniffed, len(content))
				}
				if len(content) >= 16 && bytes.Contains(sealed, content) {
					t.Fatalf("the upload is stored in plaintext")
				}
			}
		}
		x.checkLog(t)
	})
}
