package intake

import (
	"fmt"
	"strings"
	"time"

	"madoguchi.dev/platform/pseudonym"
)

// Every accepted submission mails its filer at once (the receipt notice, the
// identity code). Anyone can type anyone's address into the form, so without
// a bound the form could be used to flood a person's mailbox with our mails.
// The mail quota bounds the submissions a day whose mails go to one address;
// the per-client rate limits cannot, since a flood may come from many
// clients. The count lives in the intake's database (table mail_quota), so
// it holds across replicas, and it is charged in the statement that writes
// the request (qInsertRequests): a refused submission stores nothing else.

// DefaultMailPerAddressPerDay is INTAKE_MAIL_PER_ADDRESS_PER_DAY's default.
const DefaultMailPerAddressPerDay = 5

// MailQuota bounds the submissions a day (JST calendar day) whose mails go
// to one e-mail address. The zero value sets no bound.
type MailQuota struct {
	// PerDay is the bound; zero or less sets none.
	PerDay int
	// Key hashes the address for the counter (the pseudonym key, domain
	// separated from the pseudonyms of events): the address itself is never
	// stored.
	Key pseudonym.Key
}

// MailQuotaError says that a submission was refused because the address its
// mails would go to had its day's submissions. Nothing was stored. It names
// neither the address nor the person.
type MailQuotaError struct {
	// Limit is the submissions a day one address receives mail for.
	Limit int
	// RetryAfter is the time until the day ends (midnight JST).
	RetryAfter time.Duration
}

func (e *MailQuotaError) Error() string {
	return fmt.Sprintf("intake: the address has received the mails of %d requests today", e.Limit)
}

// mailQuotaType separates the counter's keys from the pseudonyms the same
// key makes for events: a counter row cannot be matched to an event.
const mailQuotaType pseudonym.Type = "mail_quota"

// charge is what sub costs the quota at now: nothing (a zero charge) when
// there is no bound.
func (q MailQuota) charge(sub *Submission, now time.Time) quotaCharge {
	if q.PerDay <= 0 {
		return quotaCharge{}
	}
	return quotaCharge{key: q.Key.Of(mailQuotaType, mailbox(mailAddress(sub))), day: jstDay(now), limit: q.PerDay}
}

// mailAddress is where a submission's mails go: the agent's address when an
// agent files (workflows/request sends every notice there), else the
// subject's.
func mailAddress(sub *Submission) string {
	if sub.Agent != nil && sub.Agent.Email != "" {
		return sub.Agent.Email
	}
	return sub.Subject.Email
}

// mailbox folds an address to the mailbox it reaches: normalised as the
// pseudonyms are (NFKC, trimmed, lower case) and without a sub-address
// ("hanako+1@example.jp" reaches hanako@example.jp at most providers), so
// that spelling one address many ways does not multiply its quota.
func mailbox(addr string) string {
	addr = pseudonym.Normalise(pseudonym.Email, addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	local, domain := addr[:at], addr[at:]
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	return local + domain
}

// jstDay is the JST calendar day of t, as midnight UTC of that date (how
// the database's date columns are written).
func jstDay(t time.Time) time.Time {
	y, m, d := t.In(jst).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// untilNextJSTDay is the time from t to the next midnight JST, when a new
// day's quota begins.
func untilNextJSTDay(t time.Time) time.Duration {
	y, m, d := t.In(jst).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, jst).Sub(t)
}
