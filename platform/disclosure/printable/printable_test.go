package printable

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"madoguchi.dev/platform/disclosure/readable"
)

func pdfText(t *testing.T, pdf []byte) (text string, pages string) {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext (poppler-utils) is missing: scripts/ensure-deps installs it")
		}
		t.Skip("pdftotext (poppler-utils) is missing: run scripts/ensure-deps")
	}
	f := filepath.Join(t.TempDir(), "p.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	info, _ := exec.Command("pdfinfo", f).Output()
	for _, l := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			pages = strings.TrimSpace(v)
		}
	}
	return string(out), pages
}

func TestAWrittenDisclosurePrintsTheExportInJapanese(t *testing.T) {
	if _, err := os.Stat(DefaultFont); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("fonts-ipaexfont-gothic is missing: scripts/ensure-deps installs it")
		}
		t.Skip("fonts-ipaexfont-gothic is missing")
	}
	var rows strings.Builder
	rows.WriteString(`{"access_logs":[`)
	for i := range 300 {
		if i > 0 {
			rows.WriteString(",")
		}
		rows.WriteString(`{"path":"/care/plan","accessed_at":"2026-11-0` + string(rune('1'+i%9)) + `T09:00:00Z"}`)
	}
	rows.WriteString(`]}`)
	doc := Document{Locale: "ja", Company: "株式会社Nico", Receipt: "20261207-ABC123", KindLabel: "開示",
		GeneratedAt: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC), Sections: []Section{
			{Title: "会員登録情報", Data: readable.Shape("ja", []byte(`{"name":"山田 花子","member_id":"M-0001"}`))},
			{Title: "アクセスログ", Data: readable.Shape("ja", []byte(rows.String()))},
		}}
	var buf bytes.Buffer
	if err := Write(&buf, doc, ""); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) || !bytes.Contains(buf.Bytes(), []byte("FontFile2")) {
		t.Fatal("not a PDF with an embedded TrueType font")
	}
	text, pages := pdfText(t, buf.Bytes())
	for _, want := range []string{"保有個人データの開示", "20261207-ABC123", "お名前: 山田 花子", "会員番号: M-0001",
		"アクセスログ", "ページ: /care/plan", "2026年12月7日(月) 10:00"} {
		if !strings.Contains(text, want) {
			t.Errorf("the printed page lacks %q", want)
		}
	}
	if pages == "" || pages == "1" {
		t.Errorf("300 access records fit on %q pages; want them paginated", pages)
	}
	if !strings.Contains(text, "1 / "+pages+" ページ") {
		t.Errorf("the footer does not number the pages out of %s", pages)
	}
}

func TestAMissingFontIsAClearError(t *testing.T) {
	err := Write(&bytes.Buffer{}, Document{Locale: "en"}, filepath.Join(t.TempDir(), "none.ttf"))
	if err == nil || !strings.Contains(err.Error(), "none.ttf") {
		t.Errorf("error %v, want one naming the font file", err)
	}
}
