package calendar

import (
	"errors"
	"testing"
	"time"
)

// at returns hh:mm JST on d.
func at(d Date, hh, mm int) time.Time {
	return time.Date(d.Year, d.Month, d.Day, hh, mm, 0, 0, Location())
}

func mustNew(t *testing.T, cfg Config) *Calendar {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIsBusinessDay(t *testing.T) {
	utc := time.UTC
	tests := []struct {
		name string
		cfg  Config
		t    time.Time
		want bool
	}{
		{"ordinary Tuesday", Config{}, at(D(2025, 6, 10), 10, 0), true},
		{"Saturday", Config{}, at(D(2025, 6, 14), 10, 0), false},
		{"Sunday", Config{}, at(D(2025, 6, 15), 10, 0), false},
		{"national holiday on a weekday", Config{}, at(D(2025, 7, 21), 10, 0), false},
		{"substitute holiday", Config{}, at(D(2025, 11, 24), 10, 0), false},
		{"first day of the default year-end closure", Config{}, at(D(2025, 12, 29), 10, 0), false},
		{"last day of the default year-end closure", Config{}, at(D(2026, 1, 2), 10, 0), false},
		{"Jan 3 closed by default even on a weekday", Config{}, at(D(2028, 1, 3), 10, 0), false},
		{"day after the closure", Config{}, at(D(2028, 1, 4), 10, 0), true},
		{"day before the closure", Config{}, at(D(2025, 12, 26), 10, 0), true},
		{"closure can be switched off", Config{NoYearEndClosure: true}, at(D(2025, 12, 29), 10, 0), true},
		{"custom closure Dec 28 – Jan 4 includes Dec 28", Config{YearEndClosure: Closure{MonthDay{12, 28}, MonthDay{1, 4}}}, at(D(2026, 12, 28), 10, 0), false},
		{"custom closure Dec 28 – Jan 4 includes Jan 4", Config{YearEndClosure: Closure{MonthDay{12, 28}, MonthDay{1, 4}}}, at(D(2027, 1, 4), 10, 0), false},
		{"non-wrapping closure Aug 13–16 includes Aug 14", Config{YearEndClosure: Closure{MonthDay{8, 13}, MonthDay{8, 16}}}, at(D(2025, 8, 14), 10, 0), false},
		{"non-wrapping closure Aug 13–16 leaves Dec 29 open", Config{YearEndClosure: Closure{MonthDay{8, 13}, MonthDay{8, 16}}}, at(D(2025, 12, 29), 10, 0), true},
		{"extra company holiday", Config{ExtraHolidays: []Date{D(2025, 6, 10)}}, at(D(2025, 6, 10), 10, 0), false},
		{"extra workday on a Saturday", Config{ExtraWorkdays: []Date{D(2025, 6, 14)}}, at(D(2025, 6, 14), 10, 0), true},
		{"extra workday on a national holiday", Config{ExtraWorkdays: []Date{D(2025, 7, 21)}}, at(D(2025, 7, 21), 10, 0), true},
		{"extra workday inside the closure", Config{ExtraWorkdays: []Date{D(2025, 12, 29)}}, at(D(2025, 12, 29), 10, 0), true},
		{"custom weekend Friday/Saturday closes Friday", Config{Weekend: []time.Weekday{time.Friday, time.Saturday}}, at(D(2025, 6, 13), 10, 0), false},
		{"custom weekend Friday/Saturday opens Sunday", Config{Weekend: []time.Weekday{time.Friday, time.Saturday}}, at(D(2025, 6, 15), 10, 0), true},
		{"empty weekend opens Saturday", Config{Weekend: []time.Weekday{}}, at(D(2025, 6, 14), 10, 0), true},
		{"judged by the JST date: Friday 16:00 UTC is Saturday in Tokyo", Config{}, time.Date(2025, 6, 13, 16, 0, 0, 0, utc), false},
		{"judged by the JST date: Sunday 15:00 UTC is Monday in Tokyo", Config{}, time.Date(2025, 6, 15, 15, 0, 0, 0, utc), true},
		{"last nanosecond of a Friday in JST", Config{}, D(2025, 6, 13).End(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustNew(t, tt.cfg).IsBusinessDay(tt.t); got != tt.want {
				t.Fatalf("IsBusinessDay(%v) = %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}

func TestAddBusinessDaysDueAtEndOfTheNthBusinessDayAfterReceipt(t *testing.T) {
	c := Default()
	tests := []struct {
		name     string
		received time.Time
		n        int
		want     Date
	}{
		{"Monday + 1 is Tuesday", at(D(2025, 6, 9), 10, 0), 1, D(2025, 6, 10)},
		{"receipt day is not counted even at 00:00", at(D(2025, 6, 9), 0, 0), 1, D(2025, 6, 10)},
		{"Friday evening + 1 is Monday", at(D(2025, 6, 13), 23, 30), 1, D(2025, 6, 16)},
		{"Saturday + 1 is Monday", at(D(2025, 6, 14), 10, 0), 1, D(2025, 6, 16)},
		{"Monday + 10 with no holidays is two weeks later", at(D(2025, 6, 2), 10, 0), 10, D(2025, 6, 16)},
		{"10 days over Coming of Age Day", at(D(2025, 1, 6), 10, 0), 10, D(2025, 1, 21)},
		{"10 days over Golden Week 2025", at(D(2025, 4, 25), 10, 0), 10, D(2025, 5, 14)},
		{"1 day from Dec 26 2025 skips closure and weekend", at(D(2025, 12, 26), 10, 0), 1, D(2026, 1, 5)},
		{"10 days over the year end and Coming of Age Day", at(D(2025, 12, 24), 10, 0), 10, D(2026, 1, 15)},
		{"10 days over Silver Week 2026", at(D(2026, 9, 18), 10, 0), 10, D(2026, 10, 7)},
		{"n = 0 is the end of the receipt day", at(D(2025, 6, 14), 10, 0), 0, D(2025, 6, 14)},
		{"n = -2 counts back over Golden Week", at(D(2025, 5, 7), 10, 0), -2, D(2025, 5, 1)},
		{"n = -1 from Monday is Friday", at(D(2025, 6, 16), 10, 0), -1, D(2025, 6, 13)},
		{"UTC receipt late Friday is Saturday in JST", time.Date(2025, 6, 13, 20, 0, 0, 0, time.UTC), 1, D(2025, 6, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.AddBusinessDays(tt.received, tt.n)
			want := tt.want.End()
			if !got.Equal(want) {
				t.Fatalf("AddBusinessDays = %v, want %v", got, want)
			}
			if got.Location() != Location() {
				t.Fatalf("result location = %v, want JST", got.Location())
			}
			if h, m, s := got.Clock(); h != 23 || m != 59 || s != 59 || got.Nanosecond() != 999999999 {
				t.Fatalf("result %v is not the last instant of the day", got)
			}
		})
	}
}

func TestAddBusinessDaysAndBusinessDaysBetweenAgree(t *testing.T) {
	c := Default()
	for d := D(2025, 1, 1); d.Year < 2027; d = d.AddDays(1) {
		start := at(d, 9, 0)
		for n := 1; n <= 15; n++ {
			due := c.AddBusinessDays(start, n)
			if !c.IsBusinessDay(due) {
				t.Fatalf("%v + %d = %v, not a business day", d, n, due)
			}
			if got := c.BusinessDaysBetween(start, due); got != n {
				t.Fatalf("BusinessDaysBetween(%v, %v) = %d, want %d", d, DateOf(due), got, n)
			}
			if got := c.BusinessDaysBetween(due, start); got != -n {
				t.Fatalf("BusinessDaysBetween reversed = %d, want %d", got, -n)
			}
		}
	}
}

func TestBusinessDaysBetween(t *testing.T) {
	c := Default()
	tests := []struct {
		name string
		a, b time.Time
		want int
	}{
		{"same day", at(D(2025, 6, 10), 9, 0), at(D(2025, 6, 10), 18, 0), 0},
		{"Monday to Friday", at(D(2025, 6, 9), 9, 0), at(D(2025, 6, 13), 9, 0), 4},
		{"Friday to Monday", at(D(2025, 6, 13), 9, 0), at(D(2025, 6, 16), 9, 0), 1},
		{"over Golden Week 2025", at(D(2025, 4, 30), 9, 0), at(D(2025, 5, 7), 9, 0), 3},
		{"over the year end", at(D(2025, 12, 26), 9, 0), at(D(2026, 1, 5), 9, 0), 1},
		{"backwards is negative", at(D(2025, 6, 13), 9, 0), at(D(2025, 6, 9), 9, 0), -4},
		{"end at a holiday does not count it", at(D(2025, 7, 18), 9, 0), at(D(2025, 7, 21), 9, 0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.BusinessDaysBetween(tt.a, tt.b); got != tt.want {
				t.Fatalf("BusinessDaysBetween = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHolidayName(t *testing.T) {
	c := mustNew(t, Config{ExtraHolidays: []Date{D(2025, 6, 10)}, ExtraWorkdays: []Date{D(2025, 7, 21)}})
	tests := []struct {
		name   string
		t      time.Time
		want   string
		wantOK bool
	}{
		{"national holiday wins over the closure on New Year's Day", at(D(2026, 1, 1), 9, 0), "元日", true},
		{"closure day", at(D(2025, 12, 30), 9, 0), NameYearEndClosure, true},
		{"substitute holiday", at(D(2025, 2, 24), 9, 0), NameSubstitute, true},
		{"holiday on a Sunday is still named", at(D(2025, 5, 4), 9, 0), "みどりの日", true},
		{"extra company holiday", at(D(2025, 6, 10), 9, 0), NameCompanyHoliday, true},
		{"holiday made a workday reports none", at(D(2025, 7, 21), 9, 0), "", false},
		{"plain weekend reports none", at(D(2025, 6, 14), 9, 0), "", false},
		{"business day reports none", at(D(2025, 6, 11), 9, 0), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.HolidayName(tt.t)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("HolidayName = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestLastBusinessDayOnOrBefore(t *testing.T) {
	c := Default()
	tests := []struct {
		name         string
		limit, after Date
		want         Date
		ok           bool
	}{
		{"limit is a business day", D(2025, 6, 13), D(2025, 6, 1), D(2025, 6, 13), true},
		{"limit on Sunday falls back to Friday", D(2025, 6, 15), D(2025, 6, 1), D(2025, 6, 13), true},
		{"limit in the closure falls back before it", D(2026, 1, 3), D(2025, 12, 20), D(2025, 12, 26), true},
		{"nothing after the lower bound", D(2026, 1, 4), D(2025, 12, 26), Date{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.LastBusinessDayOnOrBefore(tt.limit, tt.after)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("got %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNewRejectsUnusableConfigs(t *testing.T) {
	all := []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"every day a weekend", Config{Weekend: all}},
		{"weekday out of range", Config{Weekend: []time.Weekday{7}}},
		{"impossible extra holiday", Config{ExtraHolidays: []Date{D(2025, 2, 29)}}},
		{"impossible extra workday", Config{ExtraWorkdays: []Date{D(2025, 13, 1)}}},
		{"same date both holiday and workday", Config{ExtraHolidays: []Date{D(2025, 6, 10)}, ExtraWorkdays: []Date{D(2025, 6, 10)}}},
		{"impossible closure day", Config{YearEndClosure: Closure{MonthDay{12, 32}, MonthDay{1, 3}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New err = %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := New(Config{NoYearEndClosure: true, YearEndClosure: Closure{MonthDay{12, 32}, MonthDay{1, 3}}}); err != nil {
		t.Errorf("a disabled closure need not be valid: %v", err)
	}
}

func TestCalendarIsNotAffectedByLaterChangesToItsConfig(t *testing.T) {
	cfg := Config{ExtraHolidays: []Date{D(2025, 6, 10)}, Weekend: []time.Weekday{time.Saturday, time.Sunday}}
	c := mustNew(t, cfg)
	cfg.ExtraHolidays[0] = D(2025, 6, 11)
	cfg.Weekend[0] = time.Wednesday
	if c.IsBusinessDate(D(2025, 6, 10)) || !c.IsBusinessDate(D(2025, 6, 11)) {
		t.Fatal("calendar changed after its config was modified")
	}
}

func TestDate(t *testing.T) {
	d, err := ParseDate("2024-02-29")
	if err != nil || d != D(2024, 2, 29) || d.String() != "2024-02-29" {
		t.Fatalf("ParseDate = %v, %v", d, err)
	}
	if _, err := ParseDate("2025-02-29"); err == nil {
		t.Error("ParseDate accepted Feb 29 in a common year")
	}
	var u Date
	if err := u.UnmarshalText([]byte("2025-12-29")); err != nil || u != D(2025, 12, 29) {
		t.Errorf("UnmarshalText = %v, %v", u, err)
	}
	if err := u.UnmarshalText([]byte("29/12/2025")); err == nil {
		t.Error("UnmarshalText accepted a bad format")
	}
	if b, _ := D(2025, 1, 2).MarshalText(); string(b) != "2025-01-02" {
		t.Errorf("MarshalText = %s", b)
	}
	if got := D(2025, 12, 31).AddDays(1); got != D(2026, 1, 1) {
		t.Errorf("AddDays over the year = %v", got)
	}
	if got := D(2024, 3, 1).AddDays(-1); got != D(2024, 2, 29) {
		t.Errorf("AddDays back into a leap day = %v", got)
	}
	if D(2025, 2, 29).Valid() || !D(2024, 2, 29).Valid() || D(2025, 0, 1).Valid() {
		t.Error("Valid is wrong about February or month 0")
	}
	if got := DateOf(time.Date(2025, 12, 31, 15, 0, 0, 0, time.UTC)); got != D(2026, 1, 1) {
		t.Errorf("DateOf 15:00 UTC on Dec 31 = %v, want 2026-01-01 (JST)", got)
	}
	if got, want := EndOfDay(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC)), time.Date(2025, 6, 10, 14, 59, 59, 999999999, time.UTC); !got.Equal(want) {
		t.Errorf("EndOfDay = %v, want %v", got, want)
	}
	if D(2025, 1, 1).Compare(D(2025, 1, 2)) != -1 || D(2025, 2, 1).Compare(D(2025, 1, 31)) != 1 || D(2025, 1, 1).Compare(D(2025, 1, 1)) != 0 {
		t.Error("Compare is wrong")
	}
}
