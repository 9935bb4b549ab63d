// Package phone turns the many ways a phone number arrives — typed by an
// operator, or as MessageBird's bare digits — into E.164 ("+31612345678").
package phone

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

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

// Normalize returns raw as E.164. A leading + or 00 marks an international
// number; a leading 0 a national one in defaultRegion (e.g. "NL"); bare
// digits otherwise are international without the + — MessageBird's form.
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
		if !e164.MatchString(s) || !possibleInternational(s[1:]) {
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
	if s = phonenumbers.Format(n, phonenumbers.E164); !e164.MatchString(s) || !possibleInternational(s[1:]) {
		return "", errImpossible
	}
	return s, nil
}

// possibleInternational reports whether digits (country code first) have a
// known country code and a possible length for that country.
func possibleInternational(digits string) bool {
	// Country codes are prefix-free: the first known prefix is the one.
	for n := 1; n <= 3 && n < len(digits); n++ {
		cc, _ := strconv.Atoi(digits[:n])
		if phonenumbers.GetRegionCodeForCountryCode(cc) == "ZZ" {
			continue
		}
		nsn := digits[n:]
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
	return false
}

// e164 is the shape the database's e164 domain checks.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

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

// IsInvalid reports whether err is a refusal of the number itself.
func IsInvalid(err error) bool {
	var pe *Error
	return errors.As(err, &pe)
}
