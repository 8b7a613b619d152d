// Package display writes dates, amounts and sizes the way a person reads
// them in the notices' and pages' two languages: Japanese dates with the
// weekday, English dates spelt out, always in Japan time.
package display

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JST is Japan Standard Time (no daylight saving).
var JST = time.FixedZone("JST", 9*60*60)

var jaWeekdays = []string{"日", "月", "火", "水", "木", "金", "土"}

// Date is "2026年12月7日(月)" or "Monday 7 December 2026"; "" for zero.
func Date(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(JST)
	if locale == "en" {
		return t.Format("Monday 2 January 2006")
	}
	return fmt.Sprintf("%d年%d月%d日(%s)", t.Year(), t.Month(), t.Day(), jaWeekdays[t.Weekday()])
}

// DateTime adds the time of day: "… 15:04" / "…, 15:04 (JST)".
func DateTime(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if locale == "en" {
		return Date(locale, t) + t.In(JST).Format(", 15:04 (JST)")
	}
	return Date(locale, t) + t.In(JST).Format(" 15:04")
}

// Yen is "1,000円" / "¥1,000".
func Yen(locale string, amount int64) string {
	s := strconv.FormatInt(amount, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r != '-' && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if locale == "en" {
		return "¥" + b.String()
	}
	return b.String() + "円"
}

// Size is a file size: "512 B", "120 KB", "1.5 MB".
func Size(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt((n+1023)>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
