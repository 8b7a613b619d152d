package notify

import (
	"time"

	"madoguchi.dev/law/grounds"
	"madoguchi.dev/law/kind"
)

var jst = time.FixedZone("JST", 9*3600)

// sampleData sets every field to a distinctive value.
func sampleData() Data {
	return Data{
		Receipt:             "20261126-7K3M9Q",
		RequestKind:         kind.Disclosure,
		Jurisdiction:        kind.JP,
		ReceivedAt:          time.Date(2026, 11, 12, 10, 0, 0, 0, jst),
		DueAt:               time.Date(2026, 11, 26, 23, 59, 59, 0, jst),
		PreviousDueAt:       time.Date(2026, 11, 19, 23, 59, 59, 0, jst),
		Code:                "482917",
		ExpiresAt:           time.Date(2026, 11, 12, 10, 30, 0, 0, jst),
		AttemptsLeft:        5,
		FeeJPY:              1000,
		PaymentInstructions: "PAYMENT-INSTRUCTIONS-SENTINEL: 下記口座へお振込みください。",
		Outcome:             grounds.Refuse,
		Reason:              grounds.RiskToLifeBodyPropertyRights,
		ReasonText:          "REASON-TEXT-SENTINEL 第三者の情報が含まれるため。",
		DownloadURL:         "https://privacy.caresmiley.jp/download/DOWNLOAD-SENTINEL",
		DownloadNeedsCode:   true,
		DownloadExpiresAt:   time.Date(2026, 12, 10, 23, 59, 0, 0, jst),
		StatusURL:           "https://privacy.caresmiley.jp/status/STATUS-SENTINEL",
		CompanyName:         "株式会社サンプル介護",
		LinkedReceipt:       "20261120-ABCDEF",
	}
}

func sampleNotice(k Kind, loc string) Notice {
	return Notice{ID: "req-1." + string(k), Kind: k, Locale: loc, To: "hanako@example.jp", Data: sampleData()}
}
