// Package phone turns the many ways a phone number arrives — typed by a
// person (Parse), or as MessageBird's bare digits (Normalize) — into E.164
// ("+31612345678").
package phone

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
)

// Error says why a number was refused, in words fit for the person who typed it.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

var (
	errEmpty      = &Error{"a phone number is required"}
	errCharacters = &Error{"a phone number may contain only digits, spaces, +, -, ., ( and )"}
	errImpossible = &Error{"this is not a possible phone number: check the country code and the number of digits"}
)

// Normalize returns raw as E.164 on the webhooks' fast path: a leading +
// or 00 marks an international number; a leading 0 a national one in
// defaultRegion (e.g. "NL"); bare digits otherwise are international
// without the + — MessageBird's form. It checks only that the number is
// possible; what people type goes through Parse.
func Normalize(raw, defaultRegion string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errEmpty
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", errCharacters
		}
	}
	s = b.String()
	national := false
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(s, "00"):
		s = "+" + s[2:]
	case strings.HasPrefix(s, "0"):
		national = true // the library applies the region's trunk prefix rules
	default:
		s = "+" + s
	}
	if !national {
		// International digits are kept as they came, so a number
		// MessageBird sends maps back to exactly the same digits. Only
		// their length is checked against the country's numbering plan:
		// Parse is regex-heavy, and every webhook normalises two numbers.
		if !isE164(s) || !possibleInternational(s[1:]) {
			return "", errImpossible
		}
		return s, nil
	}
	n, err := phonenumbers.Parse(s, defaultRegion)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", errImpossible
	}
	// The result must pass the international check too, or normalising it
	// again would refuse it: a region whose international prefix starts
	// with 0 ("0110000000" in SB) reads as a call abroad.
	if s = phonenumbers.Format(n, phonenumbers.E164); !isE164(s) || !possibleInternational(s[1:]) {
		return "", errImpossible
	}
	return s, nil
}

// possibleInternational reports whether digits (country code first) have a
// known country code and a possible length for that country.
func possibleInternational(digits string) bool {
	lengths := possibleLengths()
	// Country codes are prefix-free: the first known prefix is the one.
	for n := 1; n <= 3 && n < len(digits); n++ {
		cc, err := strconv.Atoi(digits[:n])
		if err != nil || cc < 0 { // callers pass digits (isE164): never
			return false
		}
		if mask := lengths[cc]; mask&knownCode != 0 {
			length := len(digits) - n
			if strings.TrimLeft(digits[n:], "0") == "" {
				length++ // the library reads all zeros as leading zeros, then a 0
			}
			return length <= phonenumbers.MAX_LENGTH_FOR_NSN && mask&(1<<length) != 0
		}
	}
	return false
}

// knownCode marks a country code the library knows in possibleLengths;
// the lower bits are the national lengths it takes (bit n: n digits).
const knownCode = 1 << 31

// possibleLengths is, for each country code, the lengths of national
// number the library calls possible. Whether a number is possible depends
// only on its country code and its length (the library's
// IsPossibleNumberWithReason tests lengths alone), so two table lookups
// answer what a call into the library, a third of a webhook's phone work,
// answered before.
var possibleLengths = sync.OnceValue(func() *[1000]uint32 {
	var t [1000]uint32
	for cc := 1; cc < len(t); cc++ {
		if phonenumbers.GetRegionCodeForCountryCode(cc) == "ZZ" {
			continue
		}
		t[cc] = knownCode
		for n := 1; n <= phonenumbers.MAX_LENGTH_FOR_NSN; n++ {
			if libraryPossible(cc, strings.Repeat("1", n)) {
				t[cc] |= 1 << n
			}
		}
	}
	return &t
})

// libraryPossible asks the library whether national number nsn (digits,
// leading zeros kept) is possible in country code cc.
func libraryPossible(cc int, nsn string) bool {
	national, err := strconv.ParseUint(nsn, 10, 64)
	if err != nil {
		return false
	}
	num := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(national)}
	if zeros := len(nsn) - len(strings.TrimLeft(nsn, "0")); zeros > 0 {
		num.ItalianLeadingZero, num.NumberOfLeadingZeros = proto.Bool(true), proto.Int32(int32(zeros))
	}
	return phonenumbers.IsPossibleNumber(num)
}

// isE164 reports whether s has the shape the database's e164 domain checks,
// ^\+[1-9][0-9]{6,14}$, without a regexp: every webhook checks two numbers,
// and the regexp was a third of a call's normalisation.
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Digits is an E.164 number the way MessageBird writes it: without the +.
func Digits(e164 string) string { return strings.TrimPrefix(e164, "+") }

// Region is the ISO country code a number belongs to ("NL"), or "" when
// the country code is unknown.
func Region(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" && r != "ZZ" {
		return r
	}
	r := phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
	if r == "ZZ" {
		return ""
	}
	return r
}

// InRegion reports whether e164 has the country calling code of region
// (an ISO code such as "GB"): +44 numbers are in GB, and also in GG, JE
// and IM, which share it. An unknown region has no numbers.
func InRegion(e164, region string) bool {
	cc := phonenumbers.GetCountryCodeForRegion(region)
	n, err := phonenumbers.Parse(e164, "")
	return cc != 0 && err == nil && int(n.GetCountryCode()) == cc
}

// CallingCode is the country calling code of region ("NL": 31), or 0
// for an unknown region.
func CallingCode(region string) int { return phonenumbers.GetCountryCodeForRegion(region) }

// KnownRegion reports whether region is an ISO code with a country
// calling code.
func KnownRegion(region string) bool { return phonenumbers.GetCountryCodeForRegion(region) != 0 }

// IsInvalid reports whether err is a refusal of the number itself.
func IsInvalid(err error) bool {
	var pe *Error
	return errors.As(err, &pe)
}

// Check is how strictly Parse judges a number.
type Check int

const (
	// Valid wants a number in its country's numbering plan: a person's
	// phone, which texts must reach.
	Valid Check = iota
	// Possible wants only the right length for the country: a pool number,
	// which MessageBird has already issued.
	Possible
)

// Parse reads a number as a person types it: "+49 (0)151 2345 6789",
// "0031 6 1234 5678", "06-12345678" in region NL, or bare digits, which are
// accepted only when exactly one reading (international, or national in
// region) passes check. The fictional UK drama range (+44 7700 900000 to
// 900999) counts as valid, so that sample data and tests never reach a
// real person.
func Parse(raw, region string, check Check) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errEmpty
	}
	digits := make([]byte, 0, len(s))
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		default:
			return "", errCharacters
		}
	}
	if len(digits) == 0 || len(digits) > 17 {
		return "", errImpossible
	}
	var readings []*phonenumbers.PhoneNumber
	switch d := string(digits); {
	case s[0] == '+':
		readings = parsed(s, "")
	case strings.HasPrefix(d, "00"):
		readings = parsed("+"+d[2:], "")
	case d[0] == '0':
		if phonenumbers.GetCountryCodeForRegion(region) == 0 {
			return "", &Error{"type it with + and the country code: no default country is set for national numbers"}
		}
		readings = parsed(s, region)
	default:
		readings = parsed("+"+d, "")
		if cc := phonenumbers.GetCountryCodeForRegion(region); cc != 0 {
			national, _ := strconv.ParseUint(d, 10, 64)
			readings = append(readings, &phonenumbers.PhoneNumber{
				CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(national)})
		}
	}
	var ok []string
	for _, n := range readings {
		if e := phonenumbers.Format(n, phonenumbers.E164); passes(n, e, check) && !slices.Contains(ok, e) {
			ok = append(ok, e)
		}
	}
	switch len(ok) {
	case 0:
		if check == Valid {
			return "", errInvalid
		}
		return "", errImpossible
	case 1:
		return ok[0], nil
	}
	return "", &Error{fmt.Sprintf("this could be %s or %s: type it with + and the country code", ok[0], ok[1])}
}

var errInvalid = &Error{"this is not a valid phone number: check the country code and the number of digits"}

// parsed is raw read by the library, or nothing when it cannot be read.
func parsed(raw, region string) []*phonenumbers.PhoneNumber {
	n, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return nil
	}
	return []*phonenumbers.PhoneNumber{n}
}

// passes reports whether n, formatted as e, is good enough for check.
func passes(n *phonenumbers.PhoneNumber, e string, check Check) bool {
	if !isE164(e) || !possibleInternational(e[1:]) {
		return false // Normalize must read it back unchanged
	}
	// So must Parse: the library's trunk-prefix stripping can turn odd
	// input into digits that read differently a second time.
	if back, err := phonenumbers.Parse(e, ""); err != nil || phonenumbers.Format(back, phonenumbers.E164) != e {
		return false
	}
	if check == Possible {
		return phonenumbers.IsPossibleNumber(n)
	}
	return phonenumbers.IsValidNumber(n) || fictional(e)
}

// fictional reports whether e is in Ofcom's range for drama, which the
// library calls invalid because no one can be reached on it.
func fictional(e string) bool {
	return len(e) == len("+447700900000") && strings.HasPrefix(e, "+447700900")
}

// Format writes a number for people to read, grouped as its country
// writes it: "+44 7700 900202". It takes E.164 or MessageBird's bare
// digits ("31699999999", which it writes with the +); anything else —
// "Restricted", an empty string, a number no country can read — comes
// back as it was.
func Format(number string) string {
	digits := strings.TrimPrefix(number, "+")
	if !isE164("+"+digits) || !possibleInternational(digits) {
		return number
	}
	n, err := phonenumbers.Parse("+"+digits, "")
	if err != nil {
		return number
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// NationalPattern is a regular expression (POSIX, as PostgreSQL's ~ reads
// it) matching the E.164 numbers whose national part, after their own
// country code, starts with one of the digit strings given: how a number
// typed in national form ("07700 900003": give "7700900003" and
// "07700900003", for countries that keep their 0) is found in whichever
// country its owner's phone is. Country codes are prefix-free, so each
// number is split exactly one way.
func NationalPattern(nationals ...string) string {
	return `^\+(` + callingCodes() + `)(` + strings.Join(nationals, "|") + `)`
}

// callingCodes is every country calling code, as a regular expression's
// alternatives.
var callingCodes = sync.OnceValue(func() string {
	var codes []int
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		codes = append(codes, cc)
	}
	slices.Sort(codes)
	s := make([]string, len(codes))
	for i, cc := range codes {
		s[i] = strconv.Itoa(cc)
	}
	return strings.Join(s, "|")
})
