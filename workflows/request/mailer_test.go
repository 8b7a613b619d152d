package request_test

import (
	"testing"
	"time"

	"madoguchi.dev/workflows/notify"
	"madoguchi.dev/workflows/request"
)

// Each notice's date travels in a field named for what it is; a notice
// scheduled by an older worker, which carried every such date in
// ExpiresAt, still says the right date when a newer worker sends it.
func TestNoticeDatesGoWhereEachNoticeShowsThem(t *testing.T) {
	due := time.Date(2026, 12, 21, 14, 59, 59, 0, time.UTC)
	m := request.NotifyMailer{PaymentInstructions: "振込先: 設定のとおり"}
	for _, c := range []struct {
		kind notify.Kind
		data request.NoticeData
		got  func(notify.Data) time.Time
	}{
		{request.NoticeFeeInstructions, request.NoticeData{FeeDue: due}, func(d notify.Data) time.Time { return d.DueAt }},
		{request.NoticeFeeReminder, request.NoticeData{ExpiresAt: due}, func(d notify.Data) time.Time { return d.DueAt }},
		{request.NoticeCompletion, request.NoticeData{DownloadExpiresAt: due}, func(d notify.Data) time.Time { return d.DownloadExpiresAt }},
		{request.NoticeCompletion, request.NoticeData{ExpiresAt: due}, func(d notify.Data) time.Time { return d.DownloadExpiresAt }},
		{request.NoticeEntrusted, request.NoticeData{ReplyDue: due}, func(d notify.Data) time.Time { return d.DueAt }},
		{request.NoticeEntrustedReminder, request.NoticeData{ExpiresAt: due}, func(d notify.Data) time.Time { return d.DueAt }},
	} {
		n := m.Notice(request.Mail{Kind: c.kind, Data: c.data})
		if !c.got(n.Data).Equal(due) {
			t.Errorf("%s from %+v: the notice's date is %v, want %v", c.kind, c.data, c.got(n.Data), due)
		}
		if !n.Data.ExpiresAt.IsZero() {
			t.Errorf("%s: ExpiresAt %v left set; it means a code's expiry", c.kind, n.Data.ExpiresAt)
		}
	}
	code := m.Notice(request.Mail{Kind: request.NoticeVerificationCode, Data: request.NoticeData{ExpiresAt: due}})
	if !code.Data.ExpiresAt.Equal(due) {
		t.Errorf("the verification code's expiry became %v", code.Data.ExpiresAt)
	}
}
