package phone

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw, region, want string
	}{
		{"+31612345678", "NL", "+31612345678"},
		{"31612345678", "NL", "+31612345678"}, // MessageBird's bare digits
		{"0031 6 1234 5678", "NL", "+31612345678"},
		{"06-12345678", "NL", "+31612345678"},
		{" +44 (7700) 900.001 ", "NL", "+447700900001"},
		{"07700 900001", "GB", "+447700900001"},
		{"4915112345678", "GB", "+4915112345678"},
	}
	for _, tc := range cases {
		got, err := Normalize(tc.raw, tc.region)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", tc.raw, tc.region, got, err, tc.want)
		}
	}
}

func TestNormalizeRefuses(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", "   ", "12", "+31 6 CALL ME", "0800-FLOWERS", "3161234567812345678", "++31612345678", "31612345678;DROP", "<script>", "Restricted", "anonymous", "+"} {
		got, err := Normalize(raw, "NL")
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", raw, got)
			continue
		}
		if !IsInvalid(err) {
			t.Errorf("Normalize(%q): error %v is not a phone.Error", raw, err)
		}
	}
}

func TestDigitsAndRegion(t *testing.T) {
	t.Parallel()
	if got := Digits("+31612345678"); got != "31612345678" {
		t.Errorf("Digits = %q", got)
	}
	for e164, want := range map[string]string{"+31612345678": "NL", "+447700900001": "GB", "+4915112345678": "DE", "+999123456789": ""} {
		if got := Region(e164); got != want {
			t.Errorf("Region(%q) = %q, want %q", e164, got, want)
		}
	}
}

// FuzzNormalize checks that whatever arrives, Normalize either refuses it
// with a phone.Error or returns a number the database's e164 domain accepts,
// and that normalising is idempotent.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+31612345678", "31612345678", "0031612345678", "0612345678", "+44 7700 900001", "", "+", "00", "0", "abc", "\xff\xfe", "+1 (555) 555-0100", "٣١٦١٢٣٤٥٦٧٨"} {
		f.Add(s, "NL")
	}
	f.Add("07700900001", "GB")
	f.Add("612345678", "XX")
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := Normalize(raw, region)
		if err != nil {
			if !IsInvalid(err) {
				t.Fatalf("Normalize(%q): unexpected error type %T", raw, err)
			}
			return
		}
		if !domainE164.MatchString(got) {
			t.Fatalf("Normalize(%q) = %q, not E.164", raw, got)
		}
		again, err := Normalize(got, region)
		if err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", raw, got, got, again, err)
		}
	})
}

// BenchmarkNormalize measures the webhooks' case (MessageBird's digits)
// and an operator's national input.
func BenchmarkNormalize(b *testing.B) {
	for _, raw := range []string{"31612345678", "06 1234 5678"} {
		b.Run(raw, func(b *testing.B) {
			for b.Loop() {
				if _, err := Normalize(raw, "NL"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestParse covers what people type: each country in its international,
// trunk-prefixed international and national forms, and the readings of
// bare digits.
func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw, region, want string
	}{
		// The bracketed trunk 0 is not dialled from abroad.
		{"+49 (0)151 2345 6789", "NL", "+4915123456789"},
		{"+49 151 2345 6789", "NL", "+4915123456789"},
		{"0151 2345 6789", "DE", "+4915123456789"},
		{"0049 151 23456789", "NL", "+4915123456789"},
		// Bare digits: only the national reading in NL is a valid number.
		{"612345678", "NL", "+31612345678"},
		{"31612345678", "NL", "+31612345678"},
		{"+31 6 1234 5678", "DE", "+31612345678"},
		{"+31 (0)6 1234 5678", "DE", "+31612345678"},
		{"06-12345678", "NL", "+31612345678"},
		{"0031 6 1234 5678", "DE", "+31612345678"},
		{"+44 20 7946 0018", "NL", "+442079460018"},
		{"+44 (0)20 7946 0018", "NL", "+442079460018"},
		{"020 7946 0018", "GB", "+442079460018"},
		{"+33 6 12 34 56 78", "NL", "+33612345678"},
		{"+33 (0)6 12 34 56 78", "NL", "+33612345678"},
		{"06 12 34 56 78", "FR", "+33612345678"},
		{"+1 (212) 555-0123", "NL", "+12125550123"},
		{"(212) 555-0123", "US", "+12125550123"},
		{"+39 06 6982 1234", "NL", "+390669821234"}, // Italy keeps its 0
		{"06 6982 1234", "IT", "+390669821234"},
		{"+61 412 345 678", "NL", "+61412345678"},
		{"0412 345 678", "AU", "+61412345678"},
		// The sample data's fictional range stays usable.
		{"+44 7700 900123", "NL", "+447700900123"},
		{"07700 900123", "GB", "+447700900123"},
	}
	for _, tc := range cases {
		got, err := Parse(tc.raw, tc.region, Valid)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q, %q) = %q, %v; want %q", tc.raw, tc.region, got, err, tc.want)
		}
		if again, err := Normalize(got, tc.region); err != nil || again != got {
			t.Errorf("Normalize(%q) = %q, %v: the webhooks would not match it", got, again, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw, region, reason string
	}{
		{"+3161234567", "NL", "not a valid phone number"},   // a digit short
		{"+316123456789", "NL", "not a valid phone number"}, // a digit too many
		{"+447700901123", "NL", "not a valid phone number"}, // next to the drama range
		{"4915123456789", "DE", "could be +4915123456789 or +494915123456789"},
		{"0612345678", "", "no default country"},
		{"06 CALL ME", "NL", "only digits"},
		{"", "NL", "required"},
		{"123456789012345678", "NL", "not a possible"},
	}
	for _, tc := range cases {
		got, err := Parse(tc.raw, tc.region, Valid)
		if err == nil || !IsInvalid(err) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("Parse(%q, %q) = %q, %v; want a refusal saying %q", tc.raw, tc.region, got, err, tc.reason)
		}
	}
}

// TestParsePossible: a pool number needs only the right length, so a new
// range the library does not know yet is still accepted.
func TestParsePossible(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{"+447700901123": "+447700901123", "3197010000000": "+3197010000000", "+31 970 1000 0000": "+3197010000000"} {
		if got, err := Parse(raw, "NL", Possible); err != nil || got != want {
			t.Errorf("Parse(%q, Possible) = %q, %v; want %q", raw, got, err, want)
		}
	}
	if got, err := Parse("+31 6 12", "NL", Possible); err == nil {
		t.Errorf("Parse(+31 6 12, Possible) = %q, want a refusal", got)
	}
}

// FuzzParse checks that whatever a person types, Parse either refuses it
// with a phone.Error or returns E.164 that it reads back unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"+49 (0)151 2345 6789", "612345678", "0612345678", "0031612345678", "+44 7700 900001", "", "+", "00", "0", "(0)", "\xff", "4915123456789"} {
		f.Add(s, "NL")
	}
	f.Add("0151 2345 6789", "DE")
	f.Add("612345678", "")
	f.Fuzz(func(t *testing.T, raw, region string) {
		for _, check := range []Check{Valid, Possible} {
			got, err := Parse(raw, region, check)
			if err != nil {
				if !IsInvalid(err) {
					t.Fatalf("Parse(%q): unexpected error type %T", raw, err)
				}
				continue
			}
			if again, err := Parse(got, region, check); err != nil || again != got {
				t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q, %v", raw, got, got, again, err)
			}
		}
	})
}

func TestFormat(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"+447700900202": "+44 7700 900202",
		"447700900202":  "+44 7700 900202", // MessageBird's digits
		"31699999999":   "+31 6 99999999",
		"+442079460000": "+44 20 7946 0000",
		"Restricted":    "Restricted",
		"":              "",
		"12":            "12",
		"+999123456789": "+999123456789", // no such country code
	}
	for in, want := range cases {
		if got := Format(in); got != want {
			t.Errorf("Format(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNationalPattern(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(NationalPattern("7700900003", "07700900003"))
	for number, want := range map[string]bool{
		"+447700900003":  true,  // GB: the 0 is a trunk prefix
		"+3107700900003": true,  // a country that kept the 0 (the pattern does not know whose)
		"+447700900004":  false, // another number
		"+4417700900003": false, // the digits, but not right after the country code
	} {
		if got := re.MatchString(number); got != want {
			t.Errorf("%s matched %v, want %v", number, got, want)
		}
	}
}

// domainE164 is the database's e164 domain (migration 001).
var domainE164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// isE164 accepts exactly what the database's e164 domain does.
func TestIsE164_MatchesTheDomain(t *testing.T) {
	domain := domainE164
	cases := []string{"", "+", "+1", "+123456", "+1234567", "+123456789012345", "+1234567890123456",
		"+0123456789", "31612345678", "+31 612345678", "+3161234567a", "++31612345678", "+٣١٦١٢٣٤٥٦٧٨", "+31612345678\n"}
	for d := range 17 {
		cases = append(cases, "+9"+strings.Repeat("0", d))
	}
	for _, s := range cases {
		if got, want := isE164(s), domain.MatchString(s); got != want {
			t.Errorf("isE164(%q) = %v, the domain says %v", s, got, want)
		}
	}
}

// The table answers what the library answers, for every country code and
// length, with and without leading zeros: were whether a number is possible
// to depend on more than its length, a case here would show it.
func TestPossibleInternational_MatchesTheLibrary(t *testing.T) {
	library := func(digits string) bool { // the lookup the table replaced
		for n := 1; n <= 3 && n < len(digits); n++ {
			cc, _ := strconv.Atoi(digits[:n])
			if phonenumbers.GetRegionCodeForCountryCode(cc) != "ZZ" {
				return libraryPossible(cc, digits[n:])
			}
		}
		return false
	}
	checked := 0
	for cc := range 1000 {
		for n := range 20 {
			for _, nsn := range []string{strings.Repeat("7", n), strings.Repeat("0", n), "0" + strings.Repeat("5", max(n-1, 0))} {
				digits := strconv.Itoa(cc) + nsn
				if got, want := possibleInternational(digits), library(digits); got != want {
					t.Errorf("possibleInternational(%q) = %v, the library says %v", digits, got, want)
				}
				checked++
			}
		}
	}
	if !possibleInternational("31612345678") || possibleInternational("3161") {
		t.Error("a Dutch number must be possible with 9 national digits and not with 2")
	}
	t.Logf("%d numbers checked", checked)
}
