package phone

import "testing"

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
		if !e164.MatchString(got) {
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
