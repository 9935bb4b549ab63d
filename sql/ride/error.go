package ride

import (
	"errors"
	"fmt"
)

// Kind groups error codes by what the one who asked can do about them.
// Adapters translate a kind into their own terms in one place (web: an
// HTTP status), never a code one by one.
type Kind int

// The kinds of failure.
const (
	Internal     Kind = iota // our fault: logged, never shown
	Invalid                  // a value is wrong: correct it and try again
	Malformed                // the request cannot be read at all
	NotFound                 // the thing asked for does not exist
	NotAllowed               // this address does not take this method
	Conflict                 // the values are fine, the current state forbids it
	TooLarge                 // the request is bigger than accepted
	Unsupported              // the request's format or encoding is not accepted
	Unauthorized             // credentials are missing or wrong
	Forbidden                // the credentials do not allow it
	Unavailable              // busy right now: try again shortly
)

// Code is the stable name of a failure: API clients read it in a problem
// document's "code", so a code, once shipped, keeps its name.
type Code struct {
	name string
	kind Kind
}

// String is the code's name.
func (c Code) String() string { return c.name }

// Kind is what the code means to whoever asked.
func (c Code) Kind() Kind { return c.kind }

// The table of codes: every failure BirdCar reports is one of these.
var (
	// Rules of the domain.
	CodeInvalid         = Code{"invalid", Invalid} // named invalid_<field> when a field is at fault
	CodeInvalidPhone    = Code{"invalid_phone", Invalid}
	CodeRideNotFound    = Code{"ride_not_found", NotFound}
	CodePersonNotFound  = Code{"person_not_found", NotFound}
	CodeNumberNotFound  = Code{"number_not_found", NotFound}
	CodeMessageNotFound = Code{"message_not_found", NotFound}
	CodeDuplicatePhone  = Code{"duplicate_phone", Conflict}
	CodeDuplicateNumber = Code{"duplicate_number", Conflict}
	CodePoolExhausted   = Code{"pool_exhausted", Conflict}
	CodeRideActive      = Code{"ride_active", Conflict}
	CodeNumberReused    = Code{"number_reused", Conflict}
	CodeNotRetryable    = Code{"not_retryable", Conflict}
	CodePersonHasRides  = Code{"person_has_rides", Conflict}
	CodePersonInSession = Code{"person_in_session", Conflict}
	CodePersonErased    = Code{"person_erased", Conflict}
	// Operators and API tokens (sql/admin).
	CodeOperatorNotFound   = Code{"operator_not_found", NotFound}
	CodeTokenNotFound      = Code{"token_not_found", NotFound}
	CodeDuplicateUsername  = Code{"duplicate_username", Conflict}
	CodeDuplicateTokenName = Code{"duplicate_token_name", Conflict}
	CodeLastAdmin          = Code{"last_admin", Conflict}
	// An Idempotency-Key names one request: another one under it is refused,
	// and so is a retry while the first is still running.
	CodeIdempotencyKeyReused = Code{"idempotency_key_reused", Invalid}
	CodeIdempotencyKeyInUse  = Code{"idempotency_key_in_use", Conflict}
	CodeBusy                 = Code{"busy", Unavailable}
	CodeDatabaseUnavailable  = Code{"database_unavailable", Unavailable}
	CodeInternal             = Code{"internal", Internal}

	// Raised by the adapters, about the request rather than the rules.
	CodeMalformed            = Code{"malformed", Malformed} // named invalid_<field> when a field is at fault
	CodeBadRequest           = Code{"bad_request", Malformed}
	CodeInvalidJSON          = Code{"invalid_json", Malformed}
	CodeInvalidEncoding      = Code{"invalid_encoding", Malformed}
	CodeNotFound             = Code{"not_found", NotFound}
	CodeAPIDisabled          = Code{"api_disabled", NotFound}
	CodeMethodNotAllowed     = Code{"method_not_allowed", NotAllowed}
	CodeTooLarge             = Code{"too_large", TooLarge}
	CodeUnsupportedMediaType = Code{"unsupported_media_type", Unsupported}
	CodeUnsupportedEncoding  = Code{"unsupported_encoding", Unsupported}
	CodeUnauthorized         = Code{"unauthorized", Unauthorized}
	CodeInvalidSignature     = Code{"invalid_signature", Unauthorized}
	CodeReplayedSignature    = Code{"replayed_signature", Unauthorized}
	CodeForbidden            = Code{"forbidden", Forbidden}
	CodeCSRF                 = Code{"csrf", Forbidden}
)

// Error is a failure whose Message is fit to show the person who caused
// it. Any other error is internal: logged with its details, shown as a
// generic apology.
type Error struct {
	Code    Code
	Field   string // the input at fault, when there is one
	Message string // a sentence a person can act on
	// More are the other fields at fault in the same input, each an
	// Error of its own, so that a form shows every mistake at once.
	More []*Error
}

// Error implements error; people read Message instead.
func (e *Error) Error() string { return e.Name() + ": " + e.Message }

// Name is the code as clients read it: "invalid_<field>" for a field's
// invalid or malformed value, else the code's own name.
func (e *Error) Name() string {
	if e.Field != "" && (e.Code == CodeInvalid || e.Code == CodeMalformed) {
		return "invalid_" + e.Field
	}
	return e.Code.name
}

// Errorf returns an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField reports a wrong value in one field.
func InvalidField(field, message string) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: message}
}

// MalformedField reports a field of a request that cannot be read.
func MalformedField(field, message string) *Error {
	return &Error{Code: CodeMalformed, Field: field, Message: message}
}

// FieldErrors is the message of each field at fault, by field: this
// Error's own and those in More ("" for one about the input as a whole).
func (e *Error) FieldErrors() map[string]string {
	out := make(map[string]string, 1+len(e.More))
	for _, f := range append([]*Error{e}, e.More...) {
		if _, seen := out[f.Field]; !seen {
			out[f.Field] = f.Message
		}
	}
	return out
}

// JoinFields returns the first of errs that is not nil, carrying the
// field errors after it in More, so that a form shows every mistake at
// once (the console's own forms in sql/admin use it too); nil when every
// one is nil. An internal
// error among them wins, since nothing can be shown about it.
func JoinFields(errs ...error) error {
	var first *Error
	for _, err := range errs {
		if err == nil {
			continue
		}
		e := AsError(err)
		if e == nil {
			return err
		}
		if first == nil {
			c := *e
			first = &c
			continue
		}
		first.More = append(first.More, append([]*Error{{Code: e.Code, Field: e.Field, Message: e.Message}}, e.More...)...)
	}
	if first == nil {
		return nil
	}
	return first
}

// AsError returns the Error in err's chain, or nil for an internal error.
func AsError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return nil
}

// ErrorCode is the code of err: CodeInternal for anything but an Error.
func ErrorCode(err error) Code {
	if e := AsError(err); e != nil {
		return e.Code
	}
	return CodeInternal
}

// Errors whose message never changes.
var (
	ErrRideNotFound    = &Error{Code: CodeRideNotFound, Message: "There is no ride with this id."}
	ErrPersonNotFound  = &Error{Code: CodePersonNotFound, Message: "This person no longer exists."}
	ErrNumberNotFound  = &Error{Code: CodeNumberNotFound, Message: "This number is not in the pool."}
	ErrMessageNotFound = &Error{Code: CodeMessageNotFound, Message: "There is no such outbound message."}
	ErrEventNotFound   = &Error{Code: CodeNotFound, Message: "There is no such event."}
	ErrPoolExhausted   = &Error{Code: CodePoolExhausted,
		Message: "No proxy number is free for this customer and driver — add numbers to the pool."}
	// ErrNotUTF8 refuses a body that is not text, which JSON decoding
	// would otherwise mend silently.
	ErrNotUTF8     = &Error{Code: CodeInvalidEncoding, Message: "The body is not valid UTF-8."}
	ErrInvalidJSON = &Error{Code: CodeInvalidJSON, Message: "The body is not a valid JSON object."}
)
