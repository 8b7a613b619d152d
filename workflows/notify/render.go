package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"madoguchi.dev/law/calendar"
	"madoguchi.dev/law/grounds"
	"madoguchi.dev/law/kind"
)

//go:embed templates/ja/*.tmpl templates/en/*.tmpl
var templateFS embed.FS

// Each kind has templates/<locale>/<kind>.tmpl defining "subject" and
// "body"; templates/<locale>/_common.tmpl defines the shared parts.
type templateSet map[string]map[Kind]*template.Template // locale -> kind

var (
	parseOnce sync.Once
	parsed    templateSet
	parseErr  error
)

func templates() (templateSet, error) {
	parseOnce.Do(func() { parsed, parseErr = parseTemplates() })
	return parsed, parseErr
}

// funcs are the template helpers; formatting of data happens in view.
var funcs = template.FuncMap{
	// lcfirst lower-cases the first letter of an English label for use
	// inside a sentence ("Suspension of use" -> "suspension of use").
	"lcfirst": func(s string) string {
		for i, r := range s {
			return string(unicode.ToLower(r)) + s[i+utf8.RuneLen(r):]
		}
		return s
	},
}

func parseTemplates() (templateSet, error) {
	set := templateSet{}
	for _, loc := range []string{LocaleJA, LocaleEN} {
		common, err := templateFS.ReadFile("templates/" + loc + "/_common.tmpl")
		if err != nil {
			return nil, err
		}
		set[loc] = map[Kind]*template.Template{}
		for _, k := range Kinds() {
			name := "templates/" + loc + "/" + string(k) + ".tmpl"
			src, err := templateFS.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("notify: template %s: %w", name, err)
			}
			t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(string(common))
			if err == nil {
				_, err = t.Parse(string(src))
			}
			if err != nil {
				return nil, fmt.Errorf("notify: template %s: %w", name, err)
			}
			for _, part := range []string{"subject", "body"} {
				if t.Lookup(part) == nil {
					return nil, fmt.Errorf("notify: template %s defines no %q", name, part)
				}
			}
			set[loc][k] = t
		}
	}
	return set, nil
}

// Render writes the notice: a one-line subject, the plain-text body, and an
// HTML body carrying the same text (paragraphs, line breaks, links). It
// fails with ErrInvalidNotice for an unknown kind or locale or a missing
// field, and never puts field values in the error.
func Render(n Notice) (subject, textBody, htmlBody string, err error) {
	fs, err := n.validate()
	if err != nil {
		return "", "", "", err
	}
	set, err := templates()
	if err != nil {
		return "", "", "", err
	}
	t := set[n.Locale][n.Kind]
	v := view(n, fs)
	var sb, bb bytes.Buffer
	if err := t.ExecuteTemplate(&sb, "subject", v); err != nil {
		return "", "", "", fmt.Errorf("notify: %s/%s subject: %w", n.Locale, n.Kind, err)
	}
	if err := t.ExecuteTemplate(&bb, "body", v); err != nil {
		return "", "", "", fmt.Errorf("notify: %s/%s body: %w", n.Locale, n.Kind, err)
	}
	subject = oneLine(sb.String())
	textBody = tidy(bb.String())
	htmlBody, err = toHTML(n.Locale, subject, textBody)
	if err != nil {
		return "", "", "", fmt.Errorf("notify: %s/%s html: %w", n.Locale, n.Kind, err)
	}
	return subject, textBody, htmlBody, nil
}

// view is the template data: only the fields the kind may use, formatted
// for the locale. Keys the kind may not use are absent, so a template that
// refers to one fails (missingkey=error).
func view(n Notice, fs fields) map[string]any {
	d, loc := n.Data, n.Locale
	v := map[string]any{}
	for _, f := range fs.allowed {
		switch f {
		case fReceipt:
			v[f] = d.Receipt
		case fKindLabel:
			v[f] = kindLabel(d.RequestKind, loc)
		case fJurisdiction:
			v[f] = string(d.Jurisdiction)
			v["IsJP"] = d.Jurisdiction == kind.JP
			v["IsGDPR"] = d.Jurisdiction == kind.GDPR
			v["IsCCPA"] = d.Jurisdiction == kind.CCPA
			// A CCPA opt-out has its own period (deadline.DueFor).
			v["IsCCPAOptOut"] = d.Jurisdiction == kind.CCPA && d.RequestKind == kind.ThirdPartyStop
		case fReceivedAt:
			v[f] = formatDate(d.ReceivedAt, loc)
		case fDueAt:
			v[f] = formatDate(d.DueAt, loc)
		case fPreviousDueAt:
			v[f] = formatDate(d.PreviousDueAt, loc)
		case fCode:
			v[f] = d.Code
		case fExpiresAt:
			v[f] = formatDateTime(d.ExpiresAt, loc)
		case fAttemptsLeft:
			v[f] = d.AttemptsLeft
		case fFee:
			v[f] = formatYen(d.FeeJPY)
		case fPayment:
			v[f] = d.PaymentInstructions
		case fOutcome:
			v[f] = string(d.Outcome)
			v["IsApproved"] = d.Outcome == grounds.Approve
			v["IsRefused"] = d.Outcome == grounds.Refuse
			v["IsPartial"] = d.Outcome == grounds.PartiallyRefuse
		case fReason:
			label, article := "", ""
			if t, err := grounds.DescribeRefusal(d.Reason); err == nil {
				label, article = t.EN, t.Article
				if loc == LocaleJA {
					label = t.JA
				}
			}
			v["ReasonLabel"], v["ReasonArticle"] = label, articleFor(article, d.Jurisdiction, loc)
		case fReasonText:
			v[f] = strings.TrimSpace(d.ReasonText)
		case fDownloadURL:
			v[f] = d.DownloadURL
			v["DownloadNeedsCode"] = d.DownloadNeedsCode
		case fDownloadExpiresAt:
			v[f] = formatDateTime(d.DownloadExpiresAt, loc)
		case fStatusURL:
			v[f] = d.StatusURL
		case fCompanyName:
			v[f] = d.CompanyName
		case fLinkedReceipt:
			v[f] = d.LinkedReceipt
		}
	}
	return v
}

func kindLabel(k kind.Kind, loc string) string { return k.Label(loc) }

var articleRef = regexp.MustCompile(`^(\d+)(?:\((\d+)\))?(?:\(([ivx]+)\))?$`)

var romanItem = map[string]string{"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9", "x": "10"}

// articleFor turns a provision from package grounds ("Art. 33(2)(i)",
// "Art. 34, 35", "GDPR Art. 12(5)") into the citation shown to the person:
// "個人情報保護法第33条第2項第1号" / "APPI Art. 33(2)(i)". APPI provisions
// are cited only under JP, GDPR ones only under EU; otherwise "".
func articleFor(article string, j kind.Jurisdiction, loc string) string {
	if article == "" {
		return ""
	}
	rest, gdpr := strings.CutPrefix(article, "GDPR ")
	if (gdpr && j != kind.GDPR) || (!gdpr && j != kind.JP) {
		return ""
	}
	law := "APPI"
	if gdpr {
		law = "GDPR"
	} else if loc == LocaleJA {
		law = "個人情報保護法"
	}
	if loc != LocaleJA {
		return law + " " + rest
	}
	var parts []string
	for _, ref := range strings.Split(strings.TrimPrefix(rest, "Art. "), ", ") {
		m := articleRef.FindStringSubmatch(ref)
		if m == nil {
			return law + " " + rest
		}
		p := "第" + m[1] + "条"
		if m[2] != "" {
			p += "第" + m[2] + "項"
		}
		if m[3] != "" {
			p += "第" + romanItem[m[3]] + "号"
		}
		parts = append(parts, p)
	}
	return law + strings.Join(parts, "、")
}

var weekdayJA = [...]string{"日", "月", "火", "水", "木", "金", "土"}

// formatDate shows the JST date: 2026年11月26日(木) or Thu 26 Nov 2026; ""
// for the zero time.
func formatDate(t time.Time, loc string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(calendar.Location())
	if loc == LocaleJA {
		return t.Format("2006年1月2日") + "(" + weekdayJA[t.Weekday()] + ")"
	}
	return t.Format("Mon 2 Jan 2006")
}

// formatDateTime adds the JST time of day: 2026年11月26日(木) 14:30（日本時間）
// or Thu 26 Nov 2026, 14:30 (Japan time, UTC+9).
func formatDateTime(t time.Time, loc string) string {
	if t.IsZero() {
		return ""
	}
	hm := t.In(calendar.Location()).Format("15:04")
	if loc == LocaleJA {
		return formatDate(t, loc) + " " + hm + "（日本時間）"
	}
	return formatDate(t, loc) + ", " + hm + " (Japan time, UTC+9)"
}

// formatYen shows an amount as ¥1,000.
func formatYen(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-¥" + b.String()
	}
	return "¥" + b.String()
}

// oneLine makes a header-safe subject: control characters become spaces,
// runs of spaces collapse.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

var blankRuns = regexp.MustCompile(`\n{3,}`)

// tidy trims trailing spaces from lines, keeps at most one blank line
// between paragraphs (conditionals leave gaps), and ends with a newline.
func tidy(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	s = blankRuns.ReplaceAllString(strings.Join(lines, "\n"), "\n\n")
	return strings.Trim(s, "\n") + "\n"
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"'（）「」、。]+`)

type htmlSegment struct{ Text, URL string }

type htmlPage struct {
	Lang, Title string
	Paragraphs  [][][]htmlSegment // paragraph -> line -> segments
}

var htmlLayout = htmltemplate.Must(htmltemplate.New("page").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; line-height: 1.6;">
{{range .Paragraphs}}<p>{{range $i, $line := .}}{{if $i}}<br>
{{end}}{{range $line}}{{if .URL}}<a href="{{.URL}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}{{end}}</p>
{{end}}</body>
</html>
`))

// toHTML carries the text body into HTML: blank lines separate paragraphs,
// lines break, URLs become links. Everything is escaped by html/template.
func toHTML(lang, title, text string) (string, error) {
	page := htmlPage{Lang: lang, Title: title}
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		var lines [][]htmlSegment
		for _, line := range strings.Split(para, "\n") {
			var segs []htmlSegment
			last := 0
			for _, m := range urlPattern.FindAllStringIndex(line, -1) {
				if m[0] > last {
					segs = append(segs, htmlSegment{Text: line[last:m[0]]})
				}
				segs = append(segs, htmlSegment{Text: line[m[0]:m[1]], URL: line[m[0]:m[1]]})
				last = m[1]
			}
			if last < len(line) {
				segs = append(segs, htmlSegment{Text: line[last:]})
			}
			lines = append(lines, segs)
		}
		page.Paragraphs = append(page.Paragraphs, lines)
	}
	var b bytes.Buffer
	if err := htmlLayout.Execute(&b, page); err != nil {
		return "", err
	}
	return b.String(), nil
}
