package calendar

import (
	"fmt"
	"time"
)

// jst is Japan Standard Time as a fixed zone. Japan has had no daylight
// saving since 1951, so this is exact for every date we handle, and unlike
// time.LoadLocation("Asia/Tokyo") it needs no tzdata lookup (no I/O).
var jst = time.FixedZone("JST", 9*60*60)

// Location returns the zone the calendar counts days in (JST, UTC+9).
func Location() *time.Location { return jst }

// Date is a civil date (no time, no zone). Holidays and closures are dates;
// instants become dates by DateOf, in JST.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// D is shorthand for Date{y, m, d}.
func D(y int, m time.Month, d int) Date { return Date{Year: y, Month: m, Day: d} }

// DateOf returns the JST date of t, whatever t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.In(jst).Date()
	return Date{y, m, d}
}

// ParseDate parses "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("calendar: bad date %q: %w", s, err)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// Valid reports whether d names a real day (e.g. not February 30).
func (d Date) Valid() bool {
	n := d.normal()
	return n == d && d.Month >= time.January && d.Month <= time.December
}

// normal returns d with overflowing fields carried, as time.Date does.
func (d Date) normal() Date {
	y, m, dd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// AddDays returns the date n days after d (before, if n < 0).
func (d Date) AddDays(n int) Date { return Date{d.Year, d.Month, d.Day + n}.normal() }

// Weekday returns d's day of the week.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmp(d.Year, e.Year)
	case d.Month != e.Month:
		return cmp(int(d.Month), int(e.Month))
	default:
		return cmp(d.Day, e.Day)
	}
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Start returns 00:00:00 JST on d.
func (d Date) Start() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, jst) }

// End returns the last instant of d in JST (23:59:59.999999999). Due times
// are ends of days so that "due on the 10th" holds for all of the 10th.
func (d Date) End() time.Time { return d.AddDays(1).Start().Add(-time.Nanosecond) }

// String formats d as "2006-01-02".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// MarshalText formats d as "2006-01-02", so configs can list dates as text.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses "2006-01-02".
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// EndOfDay returns the last instant of t's JST date.
func EndOfDay(t time.Time) time.Time { return DateOf(t).End() }

// MonthDay is a day of the year without the year, for recurring closures.
type MonthDay struct {
	Month time.Month
	Day   int
}

// valid accepts Feb 29 since a recurring closure may name it.
func (md MonthDay) valid() bool {
	return Date{2024, md.Month, md.Day}.Valid()
}

func (md MonthDay) compare(o MonthDay) int {
	if md.Month != o.Month {
		return cmp(int(md.Month), int(o.Month))
	}
	return cmp(md.Day, o.Day)
}
