package calendar

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// officialHolidays are the Cabinet Office (内閣府) lists of national holidays
// including 振替休日 and 国民の休日, as month-day pairs.
var officialHolidays = map[int][][2]int{
	2019: {{1, 1}, {1, 14}, {2, 11}, {3, 21}, {4, 29}, {4, 30}, {5, 1}, {5, 2}, {5, 3}, {5, 4}, {5, 5}, {5, 6},
		{7, 15}, {8, 11}, {8, 12}, {9, 16}, {9, 23}, {10, 14}, {10, 22}, {11, 3}, {11, 4}, {11, 23}},
	2020: {{1, 1}, {1, 13}, {2, 11}, {2, 23}, {2, 24}, {3, 20}, {4, 29}, {5, 3}, {5, 4}, {5, 5}, {5, 6},
		{7, 23}, {7, 24}, {8, 10}, {9, 21}, {9, 22}, {11, 3}, {11, 23}},
	2021: {{1, 1}, {1, 11}, {2, 11}, {2, 23}, {3, 20}, {4, 29}, {5, 3}, {5, 4}, {5, 5},
		{7, 22}, {7, 23}, {8, 8}, {8, 9}, {9, 20}, {9, 23}, {11, 3}, {11, 23}},
	2022: {{1, 1}, {1, 10}, {2, 11}, {2, 23}, {3, 21}, {4, 29}, {5, 3}, {5, 4}, {5, 5},
		{7, 18}, {8, 11}, {9, 19}, {9, 23}, {10, 10}, {11, 3}, {11, 23}},
	2023: {{1, 1}, {1, 2}, {1, 9}, {2, 11}, {2, 23}, {3, 21}, {4, 29}, {5, 3}, {5, 4}, {5, 5},
		{7, 17}, {8, 11}, {9, 18}, {9, 23}, {10, 9}, {11, 3}, {11, 23}},
	2024: {{1, 1}, {1, 8}, {2, 11}, {2, 12}, {2, 23}, {3, 20}, {4, 29}, {5, 3}, {5, 4}, {5, 5}, {5, 6},
		{7, 15}, {8, 11}, {8, 12}, {9, 16}, {9, 22}, {9, 23}, {10, 14}, {11, 3}, {11, 4}, {11, 23}},
	2025: {{1, 1}, {1, 13}, {2, 11}, {2, 23}, {2, 24}, {3, 20}, {4, 29}, {5, 3}, {5, 4}, {5, 5}, {5, 6},
		{7, 21}, {8, 11}, {9, 15}, {9, 23}, {10, 13}, {11, 3}, {11, 23}, {11, 24}},
	2026: {{1, 1}, {1, 12}, {2, 11}, {2, 23}, {3, 20}, {4, 29}, {5, 3}, {5, 4}, {5, 5}, {5, 6},
		{7, 20}, {8, 11}, {9, 21}, {9, 22}, {9, 23}, {10, 12}, {11, 3}, {11, 23}},
}

func TestNationalHolidaysMatchTheCabinetOfficeListsExactly(t *testing.T) {
	years := make([]int, 0, len(officialHolidays))
	for y := range officialHolidays {
		years = append(years, y)
	}
	sort.Ints(years)
	for _, y := range years {
		t.Run(fmt.Sprint(y), func(t *testing.T) {
			want := map[Date]bool{}
			for _, md := range officialHolidays[y] {
				want[D(y, time.Month(md[0]), md[1])] = true
			}
			got := map[Date]string{}
			for _, h := range NationalHolidays(y) {
				got[h.Date] = h.Name
			}
			for d := range want {
				if _, ok := got[d]; !ok {
					t.Errorf("%v is an official holiday but was not computed", d)
				}
			}
			for d, n := range got {
				if !want[d] {
					t.Errorf("%v (%s) was computed but is not an official holiday", d, n)
				}
			}
		})
	}
}

func TestEveryWeekdayOutsideTheOfficialListIsABusinessDay(t *testing.T) {
	// Year-end closure off so that only national holidays and weekends close.
	c, err := New(Config{NoYearEndClosure: true})
	if err != nil {
		t.Fatal(err)
	}
	for y, mds := range officialHolidays {
		holiday := map[Date]bool{}
		for _, md := range mds {
			holiday[D(y, time.Month(md[0]), md[1])] = true
		}
		for d := D(y, 1, 1); d.Year == y; d = d.AddDays(1) {
			wd := d.Weekday()
			want := !holiday[d] && wd != time.Saturday && wd != time.Sunday
			if got := c.IsBusinessDate(d); got != want {
				t.Errorf("%v (%s): IsBusinessDate = %v, want %v", d, wd, got, want)
			}
		}
	}
}

func TestHolidaysCarryTheirOfficialJapaneseNames(t *testing.T) {
	tests := []struct {
		date Date
		want string
	}{
		{D(2025, 1, 1), "元日"},
		{D(2025, 1, 13), "成人の日"},
		{D(2025, 2, 24), NameSubstitute},
		{D(2025, 5, 6), NameSubstitute},
		{D(2026, 9, 22), NameCitizens},
		{D(2019, 4, 30), NameCitizens},
		{D(2019, 5, 1), "即位の日"},
		{D(2019, 5, 2), NameCitizens},
		{D(2019, 10, 22), "即位礼正殿の儀の行われる日"},
		{D(2019, 10, 14), "体育の日"},
		{D(2020, 7, 24), "スポーツの日"},
		{D(2020, 7, 23), "海の日"},
		{D(2020, 8, 10), "山の日"},
		{D(2021, 8, 8), "山の日"},
		{D(2021, 8, 9), NameSubstitute},
		{D(2024, 9, 23), NameSubstitute},
		{D(2026, 2, 23), "天皇誕生日"},
		{D(2026, 3, 20), "春分の日"},
		{D(2026, 9, 23), "秋分の日"},
		{D(2026, 11, 23), "勤労感謝の日"},
	}
	for _, tt := range tests {
		t.Run(tt.date.String(), func(t *testing.T) {
			got, ok := nationalHolidayName(tt.date)
			if !ok || got != tt.want {
				t.Fatalf("name = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestOverridesFixOnlyWhatTheLibraryGetsWrong(t *testing.T) {
	tests := []struct {
		name    string
		date    Date
		holiday bool
	}{
		{"no Emperor's Birthday in 2019 (abdication)", D(2019, 12, 23), false},
		{"2020 Mountain Day moved to Aug 10", D(2020, 8, 10), true},
		{"2020 Aug 11 is an ordinary day", D(2020, 8, 11), false},
		{"2021 Mountain Day moved to Aug 8", D(2021, 8, 8), true},
		{"2021 Aug 9 substitutes for the Sunday Mountain Day", D(2021, 8, 9), true},
		{"2021 Aug 11 is an ordinary day", D(2021, 8, 11), false},
		// Already right in the library; asserted so an upgrade cannot regress.
		{"2020 Marine Day moved to Jul 23", D(2020, 7, 23), true},
		{"2020 Sports Day moved to Jul 24", D(2020, 7, 24), true},
		{"2020 Jul 20 is an ordinary day", D(2020, 7, 20), false},
		{"2020 Oct 12 is an ordinary day", D(2020, 10, 12), false},
		{"2021 Marine Day moved to Jul 22", D(2021, 7, 22), true},
		{"2021 Sports Day moved to Jul 23", D(2021, 7, 23), true},
		{"2021 Jul 19 is an ordinary day", D(2021, 7, 19), false},
		{"2021 Oct 11 is an ordinary day", D(2021, 10, 11), false},
		{"2019 Apr 30 between Showa Day and enthronement", D(2019, 4, 30), true},
		{"2019 May 1 enthronement", D(2019, 5, 1), true},
		{"2019 May 2 between enthronement and Constitution Day", D(2019, 5, 2), true},
		{"2019 Oct 22 enthronement ceremony", D(2019, 10, 22), true},
		{"2018 Dec 24 substitutes for the Sunday Emperor's Birthday", D(2018, 12, 24), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := nationalHolidayName(tt.date); got != tt.holiday {
				t.Fatalf("%v holiday = %v, want %v", tt.date, got, tt.holiday)
			}
		})
	}
}

// TestHolidayLawRulesHoldFrom2019To2032 checks the library's substitute and
// citizens' holidays against the rules of 国民の祝日に関する法律 Art. 3 over the
// range the library supports for 国民の休日 (it hard-codes them to 2032).
func TestHolidayLawRulesHoldFrom2019To2032(t *testing.T) {
	for y := 2019; y <= 2032; y++ {
		hs := NationalHolidays(y)
		all := map[Date]string{}
		for _, h := range hs {
			all[h.Date] = h.Name
		}
		isShukujitsu := func(d Date) bool { // a named 国民の祝日, not a rule day
			n, ok := all[d]
			if !ok {
				// Neighbouring year: look it up there.
				n, ok = nationalHolidayName(d)
			}
			return ok && n != NameSubstitute && n != NameCitizens
		}
		wantSubstitute := map[Date]bool{}
		for _, h := range hs {
			if isShukujitsu(h.Date) && h.Date.Weekday() == time.Sunday {
				d := h.Date.AddDays(1)
				for isShukujitsu(d) {
					d = d.AddDays(1)
				}
				wantSubstitute[d] = true
			}
		}
		for _, h := range hs {
			if (h.Name == NameSubstitute) != wantSubstitute[h.Date] {
				t.Errorf("%v: named %q, but the substitute rule says substitute = %v", h.Date, h.Name, wantSubstitute[h.Date])
			}
			delete(wantSubstitute, h.Date)
		}
		for d := range wantSubstitute {
			t.Errorf("%v: substitute holiday missing", d)
		}
		for d := D(y, 1, 1); d.Year == y; d = d.AddDays(1) {
			sandwiched := isShukujitsu(d.AddDays(-1)) && isShukujitsu(d.AddDays(1)) && !isShukujitsu(d)
			if sandwiched && all[d] != NameCitizens {
				t.Errorf("%v lies between two holidays but is not a 国民の休日 (got %q)", d, all[d])
			}
			if !sandwiched && all[d] == NameCitizens {
				t.Errorf("%v is a 国民の休日 but does not lie between two holidays", d)
			}
		}
	}
}

func TestNationalHolidaysAreSortedAndSafeToComputeConcurrently(t *testing.T) {
	want := fmt.Sprint(NationalHolidays(2025))
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := fmt.Sprint(NationalHolidays(2025)); got != want {
				errs <- got
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent result differs: %s", e)
	}
	hs := NationalHolidays(2025)
	for i := 1; i < len(hs); i++ {
		if hs[i-1].Date.Compare(hs[i].Date) >= 0 {
			t.Fatalf("not sorted at %d: %v, %v", i, hs[i-1], hs[i])
		}
	}
}
