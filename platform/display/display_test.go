package display

import (
	"testing"
	"time"
)

func TestDatesAreWrittenInJapanTimeInEachLanguage(t *testing.T) {
	// 23:30 UTC on the 6th is already Monday the 7th in Japan.
	at := time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC)
	for _, c := range []struct{ got, want string }{
		{Date("ja", at), "2026年12月7日(月)"},
		{Date("en", at), "Monday 7 December 2026"},
		{DateTime("ja", at), "2026年12月7日(月) 08:30"},
		{DateTime("en", at), "Monday 7 December 2026, 08:30 (JST)"},
		{Date("ja", time.Time{}), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestAmountsAndSizes(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Yen("ja", 1000), "1,000円"}, {Yen("en", 1234567), "¥1,234,567"}, {Yen("ja", 300), "300円"},
		{Size(512), "512 B"}, {Size(120 << 10), "120 KB"}, {Size(3 << 19), "1.5 MB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
