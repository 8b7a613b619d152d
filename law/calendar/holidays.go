package calendar

import (
	"sort"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/jp"
)

// Holiday is one national holiday (国民の祝日 or 休日) on one date.
type Holiday struct {
	Date Date
	Name string // official Japanese name, e.g. 元日, 振替休日, 国民の休日
}

// Names for days that are holidays by rule rather than by their own name.
const (
	NameSubstitute = "振替休日"  // Sunday holiday moved to the next non-holiday (祝日法 3条2項)
	NameCitizens   = "国民の休日" // day between two holidays (祝日法 3条3項)
)

// overrides corrects github.com/rickar/cal/v2/jp v2.1.13 where it disagrees
// with the Cabinet Office lists. Checked against that version for 2019-2026:
// it already has the 2019 enthronement days, the 2020/2021 Olympic Marine Day
// and Sports Day moves, and the 2026 国民の休日; it gets wrong only the items
// below. Adding a date the library later fixes is harmless (dates are
// de-duplicated); a removal that the library later fixes is harmless too.
// A function, not a map variable, so there is no mutable global state.
func overrides(year int) (add []Holiday, remove []Date) {
	switch year {
	case 2019:
		// The Emperor's Birthday was Dec 23 until 2018 and Feb 23 from 2020;
		// 2019 had none, but the library keeps Dec 23 for year <= 2019.
		remove = []Date{D(2019, 12, 23)}
	case 2020:
		// Olympic special measures law: Mountain Day moved to Aug 10.
		add = []Holiday{{D(2020, 8, 10), "山の日"}}
		remove = []Date{D(2020, 8, 11)}
	case 2021:
		// Mountain Day moved to Aug 8 (a Sunday), so Aug 9 is a substitute.
		add = []Holiday{{D(2021, 8, 8), "山の日"}, {D(2021, 8, 9), NameSubstitute}}
		remove = []Date{D(2021, 8, 11)}
	}
	return add, remove
}

// NationalHolidays returns Japan's national holidays in year, sorted by date:
// the rickar/cal jp rules (including 振替休日 and 国民の休日 as it computes
// them) with overrides applied.
func NationalHolidays(year int) []Holiday {
	byDate := make(map[Date]string, 24)
	for _, h := range jp.Holidays {
		// Clone before Calc: some jp rule functions write into the Holiday
		// they are given, and the package-level definitions are shared, so
		// calculating on them directly would race between goroutines.
		actual, observed := h.Clone(nil).Calc(year)
		if !actual.IsZero() && actual.Year() == year {
			byDate[dateOnly(actual)] = jaName(h, year)
		}
		if !observed.IsZero() && observed.Year() == year && !observed.Equal(actual) {
			if _, taken := byDate[dateOnly(observed)]; !taken {
				byDate[dateOnly(observed)] = NameSubstitute
			}
		}
	}
	add, remove := overrides(year)
	for _, d := range remove {
		delete(byDate, d)
	}
	for _, h := range add {
		byDate[h.Date] = h.Name
	}
	out := make([]Holiday, 0, len(byDate))
	for d, n := range byDate {
		out = append(out, Holiday{d, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.Compare(out[j].Date) < 0 })
	return out
}

// dateOnly reads the civil date the library meant; its times are midnight
// in cal.DefaultLoc, so only the date fields are meaningful.
func dateOnly(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// jaName gives the official Japanese name for a library holiday. Matching is
// by identity with the library's exported definitions; an unknown future
// addition falls back to the library's English name rather than disappearing.
func jaName(h *cal.Holiday, year int) string {
	switch h {
	case jp.NewYear:
		return "元日"
	case jp.ComingOfAgeDay:
		return "成人の日"
	case jp.NationalFoundationDay:
		return "建国記念の日"
	case jp.TheEmperorsBirthday:
		return "天皇誕生日"
	case jp.VernalEquinoxDay:
		return "春分の日"
	case jp.ShowaDay:
		return "昭和の日"
	case jp.ConstitutionMemorialDay:
		return "憲法記念日"
	case jp.GreeneryDay:
		return "みどりの日"
	case jp.ChildrensDay:
		return "こどもの日"
	case jp.MarineDay:
		return "海の日"
	case jp.MountainDay:
		return "山の日"
	case jp.RespectForTheAgedDay:
		return "敬老の日"
	case jp.AutumnalEquinoxDay:
		return "秋分の日"
	case jp.SportsDay:
		if year < 2020 {
			return "体育の日" // renamed スポーツの日 from 2020
		}
		return "スポーツの日"
	case jp.CultureDay:
		return "文化の日"
	case jp.LaborThanksgivingDay:
		return "勤労感謝の日"
	case jp.NationalHolidayBetweenRespectForTheAgedDayAndAutumnalEquinoxDay,
		jp.NationalHolidayBetweenShowaDayAndNewEmperorEnthronementDay,
		jp.NationalHolidayBetweenTheNewEmperorEnthronementDayAndConstitutionMemorialDay:
		return NameCitizens
	case jp.TheNewEmperorEnthronementDay:
		return "即位の日"
	case jp.TheNewEmperorEnthronementCeremony:
		return "即位礼正殿の儀の行われる日"
	}
	return h.Name
}
