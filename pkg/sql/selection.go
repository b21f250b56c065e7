package sql

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Selection picks sessions by whose they are, what state they are in and
// how they were made: the flags that list, logout and revoke share. Each
// field narrows the selection when set; the zero Selection picks every
// session. Every value is bound as a parameter, never written into the SQL.
type Selection struct {
	// Users keeps the sessions of these users.
	Users []string
	// ExceptUsers and ExceptRoles leave out the sessions of these users,
	// and of these roles and their members (directly or through other
	// roles), as of the statement.
	ExceptUsers, ExceptRoles []string
	// State keeps the sessions in this state: StatusActive, StatusExpired
	// or StatusRevoked; "" keeps all.
	State string
	// ExpiredWithin keeps the sessions that expired within this long
	// before now.
	ExpiredWithin time.Duration
	// CreatedBefore and CreatedAfter keep the sessions created before, and
	// after, these instants.
	CreatedBefore, CreatedAfter Instant
	// IdleFor keeps the sessions not used for this long.
	IdleFor time.Duration
	// Network keeps the sessions whose HTTP login came from this address
	// or network (an address is a prefix of its full length).
	Network netip.Prefix
	// UserAgent keeps the sessions whose HTTP login's User-Agent contains
	// this text, ignoring case.
	UserAgent string
	// Via keeps the sessions made this way: "cli" or "http".
	Via string
	// IdleTimeout is not a filter but the policy the states are read by:
	// when positive, a session neither revoked nor expired but not used for
	// that long is idle (serve refuses it), not active.
	IdleTimeout time.Duration
}

// Instant is a point in time: a time, or a duration before now by the
// database clock. The zero Instant is unset.
type Instant struct {
	At  time.Time
	Ago time.Duration
}

// IsZero reports whether i is unset.
func (i Instant) IsZero() bool { return i.At.IsZero() && i.Ago == 0 }

// Epoch is the earliest time a time bound may name: no session is older,
// and an earlier time is a typo or a placeholder (0001-01-01T00:00:00Z is
// Go's zero time), not a bound to apply.
var Epoch = time.Unix(0, 0).UTC()

// Check reports whether i, set, is a bound the selection applies as
// written: a time, or a duration before now, from Epoch on. Every later
// time RFC 3339 can write (up to the year 9999) is within PostgreSQL's
// range. The error says what is accepted.
func (i Instant) Check(now time.Time) error {
	at := i.At
	if i.Ago != 0 {
		at = now.Add(-i.Ago)
	}
	if at.Before(Epoch) {
		week := 7 * 24 * time.Hour
		return fmt.Errorf("before %s: want a time from then on, or a duration ago of at most %dw",
			Epoch.Format(time.RFC3339), now.Sub(Epoch)/week)
	}
	return nil
}

// sql is i as an SQL expression, its value bound in w.
func (i Instant) sql(w *where) string {
	if i.Ago != 0 {
		return w.ago(i.Ago)
	}
	return w.arg(i.At) + "::TIMESTAMPTZ"
}

// States a Selection accepts, and the ways a session can be made.
var (
	States = []string{StatusActive, StatusIdle, StatusExpired, StatusRevoked}
	Vias   = []string{"cli", "http"}
)

// ByUsersOnly reports whether sel picks sessions by user and nothing else:
// a logout of those users.
func (sel Selection) ByUsersOnly() bool {
	return len(sel.Users) > 0 && !sel.narrowsBeyondUsers()
}

// byExceptOnly reports whether sel picks every session but those of
// ExceptUsers, and narrows by nothing else: a logout of everyone else.
func (sel Selection) byExceptOnly() bool {
	rest := sel
	rest.ExceptUsers, rest.ExceptRoles = nil, nil
	return sel.leavesUsers() && rest.IsEmpty()
}

// leavesUsers reports whether sel names users or roles to leave out.
func (sel Selection) leavesUsers() bool {
	return len(sel.ExceptUsers) > 0 || len(sel.ExceptRoles) > 0
}

// The members of the roles %s (an array), and the roles themselves, by name: through
// pg_auth_members, and not pg_has_role, to which a superuser is a member
// of every role.
const roleMembers = `ARRAY(WITH RECURSIVE m(oid) AS (
        SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ANY(%s::TEXT[])
      UNION
        SELECT am.member FROM pg_catalog.pg_auth_members am JOIN m ON am.roleid = m.oid
    ) SELECT r.rolname::TEXT FROM pg_catalog.pg_roles r JOIN m ON r.oid = m.oid)`

// addExcept adds to w the conditions that leave out sel's ExceptUsers
// and ExceptRoles, on the user name column col.
func (sel Selection) addExcept(w *where, col string) {
	if len(sel.ExceptUsers) > 0 {
		w.and(col + " <> ALL(" + w.arg(sel.ExceptUsers) + "::TEXT[])")
	}
	if len(sel.ExceptRoles) > 0 {
		w.and(col + " <> ALL(" + fmt.Sprintf(roleMembers, w.arg(sel.ExceptRoles)) + ")")
	}
}

// narrowsBeyondUsers reports whether sel has any condition but Users. It
// asks add, the one place that turns fields into conditions, so a field
// added there cannot be forgotten here (a selection that narrowed by it
// would otherwise be revoked as a logout of all of its users' sessions).
// A selection add refuses narrows too: its error comes later, from add.
func (sel Selection) narrowsBeyondUsers() bool {
	rest := sel
	rest.Users = nil
	var w where
	err := rest.add(&w)
	return err != nil || len(w.conds) > 0
}

// IsEmpty reports whether sel picks every session.
func (sel Selection) IsEmpty() bool {
	return len(sel.Users) == 0 && !sel.narrowsBeyondUsers()
}

// where collects the conditions and bound values of one WHERE clause; the
// tables are those of joinLogouts, the sessions aliased s.
type where struct {
	conds []string
	args  []any
}

// arg binds v and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// ago is the SQL for now() less d, with d bound.
func (w *where) ago(d time.Duration) string {
	return "now() - " + w.arg(d.Microseconds()) + "::BIGINT * INTERVAL '1 microsecond'"
}

func (w *where) and(cond string) { w.conds = append(w.conds, cond) }

// String is the clause, empty when there is no condition.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "\nWHERE " + strings.Join(w.conds, "\n  AND ")
}

// add adds sel's conditions to w. Each is added only when set, rather
// than written as "$1 = ” OR ...", so that a cached generic plan never
// falls back to a full scan; each narrowing one is served by an index
// (see TestQueriesUseIndexes).
func (sel Selection) add(w *where) error {
	switch len(sel.Users) {
	case 0:
	case 1:
		w.and("s.username = " + w.arg(sel.Users[0]))
	default:
		w.and("s.username = ANY(" + w.arg(sel.Users) + "::TEXT[])")
	}
	sel.addExcept(w, "s.username")
	switch sel.State {
	case "":
	case StatusActive:
		w.and(activeExpr(w, sel.IdleTimeout))
	case StatusIdle:
		if sel.IdleTimeout <= 0 {
			return errors.New("the idle state needs an idle timeout: sessions are idle only under serve's --idle-timeout")
		}
		w.and(isActive + " AND s.last_used_at <= " + w.ago(sel.IdleTimeout))
	case StatusExpired:
		w.and("NOT " + isRevoked + " AND s.expires_at <= now()")
	case StatusRevoked:
		w.and(isRevoked)
	default:
		return fmt.Errorf("unknown session state %q: want one of %s", sel.State, strings.Join(States, ", "))
	}
	if sel.ExpiredWithin > 0 {
		w.and("s.expires_at > " + w.ago(sel.ExpiredWithin) + " AND s.expires_at <= now()")
	}
	if !sel.CreatedBefore.IsZero() {
		w.and("s.created_at < " + sel.CreatedBefore.sql(w))
	}
	if !sel.CreatedAfter.IsZero() {
		w.and("s.created_at > " + sel.CreatedAfter.sql(w))
	}
	if sel.IdleFor > 0 {
		w.and("s.last_used_at <= " + w.ago(sel.IdleFor))
	}
	if sel.Network.IsValid() {
		// The network's first and last address: a range of the index on
		// client_ip, which holds single addresses.
		first, last := networkRange(sel.Network)
		w.and("s.client_ip BETWEEN " + w.arg(first.String()) + "::INET AND " + w.arg(last.String()) + "::INET")
	}
	if sel.UserAgent != "" {
		w.and("s.audit_info->>'user_agent' ILIKE " + w.arg("%"+likeEscaper.Replace(sel.UserAgent)+"%"))
	}
	switch sel.Via {
	case "":
	case "cli", "http":
		w.and("s.audit_info->>'via' = " + w.arg(sel.Via))
	default:
		return fmt.Errorf("unknown way a session was made %q: want one of %s", sel.Via, strings.Join(Vias, ", "))
	}
	return nil
}

// activeExpr is whether s is active: neither revoked nor expired, nor idle
// under idle (when positive).
func activeExpr(w *where, idle time.Duration) string {
	if idle <= 0 {
		return isActive
	}
	return "(" + isActive + " AND s.last_used_at > " + w.ago(idle) + ")"
}

// statusExpr is the state of s, revocation first, then expiry, then idleness
// under idle (when positive).
func statusExpr(w *where, idle time.Duration) string {
	idleCase := ""
	if idle > 0 {
		idleCase = "\n        WHEN s.last_used_at <= " + w.ago(idle) + " THEN '" + StatusIdle + "'"
	}
	return `CASE WHEN ` + isRevoked + ` THEN '` + StatusRevoked + `'
        WHEN s.expires_at <= now() THEN '` + StatusExpired + `'` + idleCase + ` ELSE '` + StatusActive + `' END`
}

// likeEscaper makes text match itself in a LIKE pattern, whose escape
// character is the backslash by default.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// networkRange is the first and last address of p.
func networkRange(p netip.Prefix) (first, last netip.Addr) {
	p = p.Masked()
	first = p.Addr()
	b := first.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	last, _ = netip.AddrFromSlice(b)
	return first, last
}

// ParseState reads a state as the selection flags and the API write it:
// one of States, or "all" for every state (""). The error says what is
// accepted.
func ParseState(v string) (string, error) {
	if v == "all" {
		return "", nil
	}
	for _, s := range States {
		if v == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("want one of %s or all", strings.Join(States, ", "))
}

// ParseVia reads how a session was made: one of Vias.
func ParseVia(v string) (string, error) {
	for _, s := range Vias {
		if v == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("want %s", strings.Join(Vias, " or "))
}

// ParseNetwork reads an IP address, or a network in CIDR notation, as the
// network a Selection keeps. IPv4 addresses mapped into IPv6 are read as
// IPv4, as the server records them.
func ParseNetwork(v string) (netip.Prefix, error) {
	if addr, err := netip.ParseAddr(v); err == nil && addr.Zone() == "" {
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, errors.New("want an IP address (203.0.113.7, 2001:db8::1) or a network in CIDR notation (203.0.113.0/24, 2001:db8::/32)")
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// ParseNetworks reads addresses and networks separated by commas, each as
// ParseNetwork reads one, spaces around them ignored.
func ParseNetworks(v string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		p, err := ParseNetwork(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a network: want addresses and CIDR networks separated by commas, such as 10.0.0.0/8,127.0.0.1", part)
		}
		nets = append(nets, p)
	}
	return nets, nil
}

// CheckUserAgent checks text to look for in User-Agents: not empty, and
// text as CheckText accepts it (User-Agents are stored up to MaxClientText
// bytes).
func CheckUserAgent(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return CheckText(v)
}

// LooksLikeTime reports whether v starts as a date does, to say which of
// a time's two forms (a time or a duration ago) a bad value failed.
func LooksLikeTime(v string) bool {
	return len(v) >= 5 && v[4] == '-' && strings.IndexFunc(v[:4], func(r rune) bool { return r < '0' || r > '9' }) < 0
}
