package auth

// CheckOutcome is what the check of one presented session found: the
// Verifier tells its OnCheck, for metrics. The client never learns it; every
// refusal is the same 401.
type CheckOutcome uint8

// The outcomes of a session check. Only the first reason a session fails
// for is reported, in this order.
const (
	CheckValid CheckOutcome = iota
	// CheckAbsent: the request presents no session at all.
	CheckAbsent
	// CheckMalformed: the value does not decode to an id and a secret.
	CheckMalformed
	// CheckUnknown: no session has the id (never made, or purged).
	CheckUnknown
	// CheckWrongSecret: the id is known, the secret is not its.
	CheckWrongSecret
	CheckRevoked
	CheckExpired
	// CheckIdle: not used for longer than the idle timeout.
	CheckIdle
	// CheckRoleInvalid: the role was dropped or re-created, is NOLOGIN or
	// past its VALID UNTIL.
	CheckRoleInvalid
	// CheckUnavailable: the store could not be asked (503).
	CheckUnavailable

	// NumCheckOutcomes counts the outcomes above, for tables indexed by
	// them.
	NumCheckOutcomes
)

var checkOutcomeNames = [NumCheckOutcomes]string{
	CheckValid: "valid", CheckAbsent: "absent", CheckMalformed: "malformed", CheckUnknown: "unknown",
	CheckWrongSecret: "wrong_secret", CheckRevoked: "revoked", CheckExpired: "expired", CheckIdle: "idle",
	CheckRoleInvalid: "role_invalid", CheckUnavailable: "unavailable",
}

// String is the outcome's name, as a metric label: valid, absent,
// malformed, unknown, wrong_secret, revoked, expired, idle, role_invalid or
// unavailable.
func (o CheckOutcome) String() string {
	if o < NumCheckOutcomes {
		return checkOutcomeNames[o]
	}
	return "invalid outcome"
}

// refusalReasons are the words of the debug log line of a refused session.
var refusalReasons = [NumCheckOutcomes]string{
	CheckAbsent: "no session presented", CheckMalformed: "malformed session value", CheckUnknown: "unknown session",
	CheckWrongSecret: "wrong secret", CheckRevoked: "revoked", CheckExpired: "expired", CheckIdle: "idle",
	CheckRoleInvalid: "role dropped, re-created, changed since login, NOLOGIN or past VALID UNTIL",
}
