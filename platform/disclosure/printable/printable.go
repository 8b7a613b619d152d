// Package printable renders a disclosure package as a PDF for a person who
// asked for disclosure in writing (書面, APPI Art. 33(1)): A4, paginated,
// with a Japanese font embedded (subset), so the page prints as it reads on
// any machine.
package printable

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"madoguchi.dev/platform/disclosure/readable"
	"madoguchi.dev/platform/display"
)

// DefaultFont is Debian's fonts-ipaexfont-gothic (IPAex Gothic, a
// TrueType font with full JIS coverage that PDF readers embed well).
const DefaultFont = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"

// Document is what the PDF shows.
type Document struct {
	Locale      string
	Company     string
	Receipt     string
	KindLabel   string
	GeneratedAt time.Time
	Sections    []Section
}

// Section is one holder's part: its label for the person and its export.
type Section struct {
	Title string
	Data  readable.Node
}

// ErrNoFont means the configured font file is missing.
var ErrNoFont = errors.New("printable: the Japanese font file is missing")

var words = map[string]map[string]string{
	"ja": {"title": "保有個人データの開示", "receipt": "受付番号", "kind": "ご請求の種類", "generated": "作成日時",
		"page": "%d / {nb} ページ", "lead": "ご請求に基づき、当社が保有するあなたの個人データを次のとおり開示します。"},
	"en": {"title": "Disclosure of retained personal data", "receipt": "Receipt number", "kind": "Request",
		"generated": "Prepared", "page": "page %d of {nb}",
		"lead": "As you requested, this is the personal data about you that we hold."},
}

func word(locale, key string) string {
	if w, ok := words[locale]; ok {
		return w[key]
	}
	return words["ja"][key]
}

// Write renders doc with the TrueType font at fontPath to w.
func Write(w io.Writer, doc Document, fontPath string) error {
	if fontPath == "" {
		fontPath = DefaultFont
	}
	font, err := os.ReadFile(fontPath)
	if err != nil {
		return fmt.Errorf("%w (%s): install fonts-ipaexfont-gothic or set the font path", ErrNoFont, fontPath)
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(word(doc.Locale, "title")+" "+doc.Receipt, true)
	pdf.SetCreator("Madoguchi", true)
	pdf.AddUTF8FontFromBytes("jp", "", font)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("jp", "", 8)
		page := fmt.Sprintf(word(doc.Locale, "page"), pdf.PageNo())
		pdf.CellFormat(0, 5, doc.Receipt+"   "+page, "", 0, "R", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFont("jp", "", 16)
	pdf.MultiCell(0, 9, word(doc.Locale, "title"), "", "L", false)
	pdf.SetFont("jp", "", 10)
	if doc.Company != "" {
		pdf.MultiCell(0, 6, doc.Company, "", "L", false)
	}
	for _, kv := range [][2]string{{"receipt", doc.Receipt}, {"kind", doc.KindLabel},
		{"generated", display.DateTime(doc.Locale, doc.GeneratedAt)}} {
		pdf.MultiCell(0, 6, word(doc.Locale, kv[0])+": "+kv[1], "", "L", false)
	}
	pdf.Ln(2)
	pdf.MultiCell(0, 6, word(doc.Locale, "lead"), "", "L", false)
	for _, s := range doc.Sections {
		pdf.Ln(4)
		pdf.SetFont("jp", "", 13)
		pdf.MultiCell(0, 8, s.Title, "B", "L", false)
		pdf.Ln(1)
		pdf.SetFont("jp", "", 9)
		node(pdf, s.Data, 0)
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("printable: %w", err)
	}
	return pdf.Output(w)
}

const indent = 5.0

// node writes a shaped value: fields as "label: value" lines, nested
// values indented under their label, tables one row a block.
func node(pdf *fpdf.Fpdf, n readable.Node, depth int) {
	left, _, _, _ := pdf.GetMargins()
	x := left + float64(depth)*indent
	line := func(text string) {
		pdf.SetX(x)
		w, _ := pdf.GetPageSize()
		pdf.MultiCell(w-x-left, 5, text, "", "L", false)
	}
	switch {
	case n.Fields != nil:
		for _, f := range n.Fields {
			if scalar(f.Value) {
				line(f.Label + ": " + f.Value.Scalar)
				continue
			}
			line(f.Label)
			node(pdf, f.Value, depth+1)
		}
	case n.Columns != nil:
		for i, row := range n.Rows {
			if i > 0 {
				pdf.Ln(1)
			}
			for c, cell := range row {
				line(n.Columns[c] + ": " + cell.Scalar)
			}
		}
	case n.Items != nil:
		for i, it := range n.Items {
			if i > 0 {
				pdf.Ln(1)
			}
			if scalar(it) {
				line("・" + it.Scalar)
				continue
			}
			node(pdf, it, depth)
		}
	default:
		line(n.Scalar)
	}
}

func scalar(n readable.Node) bool { return n.Fields == nil && n.Columns == nil && n.Items == nil }
