// Package calendar is the Japanese business-day calendar that deadlines are
// counted on: national holidays (from github.com/rickar/cal/v2/jp plus a small
// override table), weekends, the company's year-end closure, and one-off
// company holidays or working days.
//
// Every day is judged by its date in JST, whatever the location of the
// time.Time passed in, so results never depend on the machine's zone.
// A *Calendar is immutable after New and safe for concurrent use.
package calendar

import (
	"errors"
	"fmt"
	"time"
)

// Name reported by HolidayName for company closures.
const (
	NameYearEndClosure = "年末年始休業"
	NameCompanyHoliday = "臨時休業"
)

// Closure is an inclusive range of days closed every year. From after To
// means it wraps over New Year (Dec 29 – Jan 3).
type Closure struct {
	From, To MonthDay
}

// DefaultYearEndClosure is Dec 29 – Jan 3 inclusive, the usual 年末年始.
func DefaultYearEndClosure() Closure {
	return Closure{From: MonthDay{time.December, 29}, To: MonthDay{time.January, 3}}
}

func (c Closure) contains(d Date) bool {
	md := MonthDay{d.Month, d.Day}
	if c.From.compare(c.To) <= 0 {
		return c.From.compare(md) <= 0 && md.compare(c.To) <= 0
	}
	return c.From.compare(md) <= 0 || md.compare(c.To) <= 0
}

// Config configures a Calendar. The zero Config is the default calendar.
type Config struct {
	// YearEndClosure is the yearly closure; zero means DefaultYearEndClosure.
	YearEndClosure Closure
	// NoYearEndClosure turns the yearly closure off.
	NoYearEndClosure bool
	// Weekend lists the non-working weekdays; nil means Saturday and Sunday.
	// It must leave at least one working weekday.
	Weekend []time.Weekday
	// ExtraHolidays are one-off company closures (or national holidays the
	// library does not know yet, e.g. a newly legislated one).
	ExtraHolidays []Date
	// ExtraWorkdays are days the company works although they are weekends,
	// holidays or closure days. They win over everything else.
	ExtraWorkdays []Date
}

// Calendar answers business-day questions. Build it with New or Default.
type Calendar struct {
	closure      Closure
	closureOn    bool
	weekend      [7]bool
	extraHoliday map[Date]bool
	extraWorkday map[Date]bool
}

// ErrInvalidConfig is returned (wrapped) by New for an unusable Config.
var ErrInvalidConfig = errors.New("calendar: invalid config")

// Default returns the calendar with the zero Config: Saturday/Sunday
// weekends, national holidays and a Dec 29 – Jan 3 closure.
func Default() *Calendar {
	c, err := New(Config{})
	if err != nil {
		panic(err) // unreachable: the zero Config is valid
	}
	return c
}

// New builds a Calendar from cfg, rejecting impossible dates, a weekend of
// all seven days (nothing could ever be due) and a date that is both an
// extra holiday and an extra workday.
func New(cfg Config) (*Calendar, error) {
	c := &Calendar{
		closure:      cfg.YearEndClosure,
		closureOn:    !cfg.NoYearEndClosure,
		extraHoliday: make(map[Date]bool, len(cfg.ExtraHolidays)),
		extraWorkday: make(map[Date]bool, len(cfg.ExtraWorkdays)),
	}
	if c.closure == (Closure{}) {
		c.closure = DefaultYearEndClosure()
	}
	if c.closureOn && (!c.closure.From.valid() || !c.closure.To.valid()) {
		return nil, fmt.Errorf("%w: year-end closure %v", ErrInvalidConfig, cfg.YearEndClosure)
	}
	weekend := cfg.Weekend
	if weekend == nil {
		weekend = []time.Weekday{time.Saturday, time.Sunday}
	}
	for _, wd := range weekend {
		if wd < time.Sunday || wd > time.Saturday {
			return nil, fmt.Errorf("%w: weekday %d", ErrInvalidConfig, wd)
		}
		c.weekend[wd] = true
	}
	if c.weekend == [7]bool{true, true, true, true, true, true, true} {
		return nil, fmt.Errorf("%w: every weekday is a weekend", ErrInvalidConfig)
	}
	for _, d := range cfg.ExtraHolidays {
		if !d.Valid() {
			return nil, fmt.Errorf("%w: extra holiday %v", ErrInvalidConfig, d)
		}
		c.extraHoliday[d] = true
	}
	for _, d := range cfg.ExtraWorkdays {
		if !d.Valid() {
			return nil, fmt.Errorf("%w: extra workday %v", ErrInvalidConfig, d)
		}
		if c.extraHoliday[d] {
			return nil, fmt.Errorf("%w: %v is both an extra holiday and an extra workday", ErrInvalidConfig, d)
		}
		c.extraWorkday[d] = true
	}
	return c, nil
}

// IsBusinessDay reports whether t's JST date is a business day.
func (c *Calendar) IsBusinessDay(t time.Time) bool { return c.IsBusinessDate(DateOf(t)) }

// IsBusinessDate reports whether d is a business day. Precedence: an extra
// workday is always open; otherwise an extra holiday, a weekend, a national
// holiday or the year-end closure makes it closed.
func (c *Calendar) IsBusinessDate(d Date) bool {
	return c.isBusiness(d, nil)
}

// holidayCache memoises NationalHolidays per year within one call chain; it
// is local to a call, so the Calendar itself stays immutable.
type holidayCache map[int]map[Date]string

func (hc holidayCache) name(d Date) (string, bool) {
	if hc == nil {
		return nationalHolidayName(d)
	}
	m, ok := hc[d.Year]
	if !ok {
		m = make(map[Date]string, 24)
		for _, h := range NationalHolidays(d.Year) {
			m[h.Date] = h.Name
		}
		hc[d.Year] = m
	}
	n, ok := m[d]
	return n, ok
}

func nationalHolidayName(d Date) (string, bool) {
	for _, h := range NationalHolidays(d.Year) {
		if h.Date == d {
			return h.Name, true
		}
	}
	return "", false
}

func (c *Calendar) isBusiness(d Date, hc holidayCache) bool {
	if c.extraWorkday[d] {
		return true
	}
	if c.extraHoliday[d] || c.weekend[d.Weekday()] || (c.closureOn && c.closure.contains(d)) {
		return false
	}
	_, hol := hc.name(d)
	return !hol
}

// HolidayName names the holiday or closure on t's JST date: the national
// holiday's official name first, then 臨時休業 for an extra holiday, then
// 年末年始休業. A plain weekend and any extra workday report ("", false).
func (c *Calendar) HolidayName(t time.Time) (string, bool) {
	d := DateOf(t)
	if c.extraWorkday[d] {
		return "", false
	}
	if n, ok := nationalHolidayName(d); ok {
		return n, true
	}
	if c.extraHoliday[d] {
		return NameCompanyHoliday, true
	}
	if c.closureOn && c.closure.contains(d) {
		return NameYearEndClosure, true
	}
	return "", false
}

// AddBusinessDays returns the end (23:59:59.999999999 JST) of the n-th
// business day after t's JST date. The day of t itself is never counted,
// whether or not it is a business day or how late in it t falls: a request
// received on Friday evening with n = 1 is due at the end of Monday (if
// Monday is a business day). Negative n counts back: n = -2 gives the end of
// the second business day before t's date. n = 0 gives the end of t's date.
func (c *Calendar) AddBusinessDays(t time.Time, n int) time.Time {
	d := DateOf(t)
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	hc := holidayCache{}
	for n > 0 {
		d = d.AddDays(step)
		if c.isBusiness(d, hc) {
			n--
		}
	}
	return d.End()
}

// BusinessDaysBetween counts business days after a's JST date up to and
// including b's JST date, so BusinessDaysBetween(t, AddBusinessDays(t, n))
// == n for n > 0. It is negative when b's date is before a's, and 0 on the
// same date.
func (c *Calendar) BusinessDaysBetween(a, b time.Time) int {
	da, db := DateOf(a), DateOf(b)
	sign := 1
	if db.Compare(da) < 0 {
		da, db, sign = db, da, -1
	}
	hc := holidayCache{}
	n := 0
	for d := da.AddDays(1); d.Compare(db) <= 0; d = d.AddDays(1) {
		if c.isBusiness(d, hc) {
			n++
		}
	}
	return sign * n
}

// LastBusinessDayOnOrBefore returns the latest business day d with
// after < d <= limit, and false if there is none. Deadlines use it to pull a
// target back inside a statutory limit that ends on a closed day.
func (c *Calendar) LastBusinessDayOnOrBefore(limit, after Date) (Date, bool) {
	hc := holidayCache{}
	for d := limit; d.Compare(after) > 0; d = d.AddDays(-1) {
		if c.isBusiness(d, hc) {
			return d, true
		}
	}
	return Date{}, false
}
