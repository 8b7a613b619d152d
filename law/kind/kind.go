// Package kind names the kinds of data subject request Madoguchi handles and
// describes each one: labels, the APPI article it rests on, a plain-language
// explanation for the person, and the flags the workflow branches on.
//
// The string values of Kind, Jurisdiction and the foreign right names are
// public API values (stored, sent over the wire), so parsing is exact: no case
// folding, no trimming, no aliases.
package kind

import (
	"errors"
	"fmt"
)

// Kind is a request kind under APPI. GDPR and CCPA rights are mapped onto
// these by MapRight so that one workflow handles all three laws.
type Kind string

// The request kinds. The values are public API values; never change them.
const (
	Disclosure                 Kind = "disclosure"
	Correction                 Kind = "correction"
	Addition                   Kind = "addition"
	Deletion                   Kind = "deletion"
	Suspension                 Kind = "suspension"
	Erasure                    Kind = "erasure"
	ThirdPartyStop             Kind = "third_party_stop"
	ThirdPartyRecordDisclosure Kind = "third_party_record_disclosure"
	PurposeNotice              Kind = "purpose_notice"
)

// ErrUnknownKind is returned (wrapped) by Parse for a string that is not a Kind.
var ErrUnknownKind = errors.New("kind: unknown request kind")

// Info describes one Kind. Everything in it is fixed text or a fixed flag.
type Info struct {
	Kind      Kind
	LabelJA   string // as on the request form, e.g. 開示
	LabelEN   string
	Article   string // APPI article, e.g. "Art. 33(5)"
	ArticleJA string // the same article in Japanese, e.g. 第33条第5項
	// ExplanationJA and ExplanationEN tell the person what the request does,
	// in one or two plain sentences.
	ExplanationJA string
	ExplanationEN string
	// SummaryJA and SummaryEN say in one plain sentence what we do: the
	// request form's hint under each kind.
	SummaryJA string
	SummaryEN string
	// NeedsArt35Grounds: the request succeeds only if one of the Art. 35
	// grounds (package grounds) holds, so the form must ask for one.
	NeedsArt35Grounds bool
	// ChangesData: acting on the request edits the stored data itself
	// (Art. 34 訂正等), so the workflow must record before/after.
	ChangesData bool
	// ErasureType: acting on the request removes data, so the workflow fires
	// the erasure-completed event that downstream systems purge on.
	ErasureType bool
}

// All returns every Kind in form order. A new slice each call, so callers
// may modify it.
func All() []Kind {
	return []Kind{
		Disclosure, Correction, Addition, Deletion, Suspension, Erasure,
		ThirdPartyStop, ThirdPartyRecordDisclosure, PurposeNotice,
	}
}

// Parse returns the Kind whose value is exactly s.
func Parse(s string) (Kind, error) {
	k := Kind(s)
	if !k.Valid() {
		return "", fmt.Errorf("%w: %q", ErrUnknownKind, s)
	}
	return k, nil
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	_, ok := describe(k)
	return ok
}

// String returns the public value of k.
func (k Kind) String() string { return string(k) }

// Describe returns the Info for k.
func Describe(k Kind) (Info, error) {
	in, ok := describe(k)
	if !ok {
		return Info{}, fmt.Errorf("%w: %q", ErrUnknownKind, string(k))
	}
	return in, nil
}

// The accessors below return the zero value for an invalid Kind; use Valid
// or Parse at the boundary.

// LabelJA returns the Japanese label, e.g. 開示.
func (k Kind) LabelJA() string { in, _ := describe(k); return in.LabelJA }

// LabelEN returns the English label.
func (k Kind) LabelEN() string { in, _ := describe(k); return in.LabelEN }

// Label is the kind's label in locale ("en", else Japanese): the form, the
// status page and every notice name the kind with it.
func (k Kind) Label(locale string) string {
	if locale == "en" {
		return k.LabelEN()
	}
	return k.LabelJA()
}

// Summary is the one plain sentence on what we do, in locale.
func (k Kind) Summary(locale string) string {
	in, _ := describe(k)
	if locale == "en" {
		return in.SummaryEN
	}
	return in.SummaryJA
}

// Article returns the APPI article, e.g. "Art. 33".
func (k Kind) Article() string { in, _ := describe(k); return in.Article }

// NeedsArt35Grounds reports whether the request needs an Art. 35 ground.
func (k Kind) NeedsArt35Grounds() bool { in, _ := describe(k); return in.NeedsArt35Grounds }

// ChangesData reports whether acting on the request edits stored data.
func (k Kind) ChangesData() bool { in, _ := describe(k); return in.ChangesData }

// IsErasure reports whether acting on the request removes data and so fires
// the erasure-completed event.
func (k Kind) IsErasure() bool { in, _ := describe(k); return in.ErasureType }

// describe is a switch rather than a package-level map so that there is no
// mutable global state.
func describe(k Kind) (Info, bool) {
	const (
		procJA = "当社所定の手続により受け付けます。"
		procEN = "Requests follow our prescribed procedure."
	)
	switch k {
	case Disclosure:
		return Info{
			SummaryJA: "当社が保有するあなたの個人情報の内容をお知らせします。",
			SummaryEN: "We tell you what personal information we hold about you.",
			Kind:      k, LabelJA: "開示", LabelEN: "Disclosure",
			Article: "Art. 33", ArticleJA: "第33条",
			ExplanationJA: "当社が保有するご本人の個人データの開示を求めることができます。当社所定の手続により受け付け、手数料をいただく場合があります。",
			ExplanationEN: "You may ask us to disclose the personal data about you that we hold. Requests follow our prescribed procedure and a fee may apply.",
		}, true
	case Correction:
		return Info{
			SummaryJA: "事実と異なる情報を正しい内容に直します。",
			SummaryEN: "We correct information that is not accurate.",
			Kind:      k, LabelJA: "訂正", LabelEN: "Correction",
			Article: "Art. 34", ArticleJA: "第34条",
			ExplanationJA: "当社が保有するご本人の個人データの内容が事実でない場合、訂正を求めることができます。" + procJA,
			ExplanationEN: "If personal data about you that we hold is not true, you may ask us to correct it. " + procEN,
			ChangesData:   true,
		}, true
	case Addition:
		return Info{
			SummaryJA: "足りない情報を加えます。",
			SummaryEN: "We add information that is missing.",
			Kind:      k, LabelJA: "追加", LabelEN: "Addition",
			Article: "Art. 34", ArticleJA: "第34条",
			ExplanationJA: "当社が保有するご本人の個人データの内容が事実でない場合、内容の追加を求めることができます。" + procJA,
			ExplanationEN: "If personal data about you that we hold is not true, you may ask us to add to it. " + procEN,
			ChangesData:   true,
		}, true
	case Deletion:
		return Info{
			SummaryJA: "事実と異なる情報や不要な情報を削除します。",
			SummaryEN: "We delete information that is inaccurate or should not be held.",
			Kind:      k, LabelJA: "削除", LabelEN: "Deletion",
			Article: "Art. 34", ArticleJA: "第34条",
			ExplanationJA: "当社が保有するご本人の個人データの内容が事実でない場合、その部分の削除を求めることができます。" + procJA,
			ExplanationEN: "If personal data about you that we hold is not true, you may ask us to delete the untrue part. " + procEN,
			ChangesData:   true, ErasureType: true,
		}, true
	case Suspension:
		return Info{
			SummaryJA: "法令に反する取扱いなどがある場合に、情報の利用を止めます。",
			SummaryEN: "We stop using your information, e.g. where it is handled unlawfully.",
			Kind:      k, LabelJA: "利用停止", LabelEN: "Suspension of use",
			Article: "Art. 35", ArticleJA: "第35条",
			ExplanationJA:     "法律で定める理由がある場合、当社が保有するご本人の個人データの利用の停止を求めることができます。" + procJA,
			ExplanationEN:     "Where a reason set out in the law applies, you may ask us to stop using the personal data about you that we hold. " + procEN,
			NeedsArt35Grounds: true,
		}, true
	case Erasure:
		return Info{
			SummaryJA: "法令に反する取扱いや利用の必要がなくなった場合などに、情報を消去します。",
			SummaryEN: "We erase your information, e.g. where it is handled unlawfully or no longer needed.",
			Kind:      k, LabelJA: "消去", LabelEN: "Erasure",
			Article: "Art. 35", ArticleJA: "第35条",
			ExplanationJA:     "法律で定める理由がある場合、当社が保有するご本人の個人データの消去を求めることができます。" + procJA,
			ExplanationEN:     "Where a reason set out in the law applies, you may ask us to erase the personal data about you that we hold. " + procEN,
			NeedsArt35Grounds: true, ErasureType: true,
		}, true
	case ThirdPartyStop:
		return Info{
			SummaryJA: "あなたの情報をほかの会社へ提供することを止めます。",
			SummaryEN: "We stop providing your information to other companies.",
			Kind:      k, LabelJA: "第三者提供の停止", LabelEN: "Stop provision to third parties",
			Article: "Art. 35", ArticleJA: "第35条",
			ExplanationJA:     "法律で定める理由がある場合、ご本人の個人データの第三者への提供の停止を求めることができます。" + procJA,
			ExplanationEN:     "Where a reason set out in the law applies, you may ask us to stop providing the personal data about you to third parties. " + procEN,
			NeedsArt35Grounds: true,
		}, true
	case ThirdPartyRecordDisclosure:
		return Info{
			SummaryJA: "あなたの情報をいつ、どの会社に提供したか(受け取ったか)の記録をお知らせします。",
			SummaryEN: "We tell you when and to which companies we provided (or from which we received) your information.",
			Kind:      k, LabelJA: "第三者提供記録の開示", LabelEN: "Disclosure of third-party provision records",
			Article: "Art. 33(5)", ArticleJA: "第33条第5項",
			ExplanationJA: "ご本人の個人データを第三者に提供した記録、または第三者から受け取った記録の開示を求めることができます。当社所定の手続により受け付け、手数料をいただく場合があります。",
			ExplanationEN: "You may ask us to disclose our records of providing personal data about you to third parties or receiving it from them. Requests follow our prescribed procedure and a fee may apply.",
		}, true
	case PurposeNotice:
		return Info{
			SummaryJA: "あなたの情報を何のために利用しているかをお知らせします。",
			SummaryEN: "We tell you for what purposes we use your information.",
			Kind:      k, LabelJA: "利用目的の通知", LabelEN: "Notice of purposes of use",
			Article: "Art. 32(2)", ArticleJA: "第32条第2項",
			ExplanationJA: "当社がご本人の個人データを利用する目的の通知を求めることができます。当社所定の手続により受け付け、手数料をいただく場合があります。",
			ExplanationEN: "You may ask us to tell you the purposes for which we use the personal data about you. Requests follow our prescribed procedure and a fee may apply.",
		}, true
	}
	return Info{}, false
}

// EntrustmentNoteJA and EntrustmentNoteEN are shown with every kind when the
// data is processed on behalf of another company (委託): the entrusting
// company is the one the person's rights run against, so we act only on its
// instruction.
const (
	EntrustmentNoteJA = "他の事業者から委託を受けて取り扱っている個人データについては、委託元の指示に従って対応します。"
	EntrustmentNoteEN = "For personal data we process on behalf of another company, we act only on that company's instruction."
)
