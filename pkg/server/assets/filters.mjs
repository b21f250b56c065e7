// The Sessions view's filters: a selection of the admin API
// (GET /api/v1/admin/sessions takes every selection field as a query
// parameter, POST /api/v1/admin/sessions/revoke the same fields as JSON),
// kept in the address's hash (#sessions?ip=10.0.0.0%2F8&state=active) so
// that a reload or a link keeps them. Pure functions, tested with Node's
// test runner (pkg/server/jstest); the server parses and checks the values
// (sql.ParseSelection), and the page shows its 400 as it is.

// FILTERS are the form's fields, by the name of the selection field each
// is: the hash's keys, the query's parameters and the JSON body's keys, but
// user, one user, which the selection's list users holds.
export const FILTERS = ['user', 'state', 'ip', 'created_after', 'created_before', 'user_agent', 'via'];

// emptyFilters are filters that pick every session.
export function emptyFilters() {
  return Object.fromEntries(FILTERS.map((name) => [name, '']));
}

// readFilters reads filters from params (URLSearchParams): the FILTERS,
// trimmed, and the older names of the page's links, users for user and
// active=true for state=active. Anything else is left out.
export function readFilters(params) {
  const filters = emptyFilters();
  for (const name of FILTERS) filters[name] = (params.get(name) || '').trim();
  if (!filters.user) filters.user = (params.get('users') || '').trim();
  if (!filters.state && params.get('active') === 'true') filters.state = 'active';
  return filters;
}

// selection is the filters as the API's selection: only the fields set,
// user as the list users. An empty object picks every session.
export function selection(filters) {
  const sel = {};
  for (const name of FILTERS) {
    const v = (filters[name] || '').trim();
    if (!v) continue;
    if (name === 'user') sel.users = [v];
    else sel[name] = v;
  }
  return sel;
}

// sessionsQuery is the query string of one page of the listing: the
// selection, the page size, and the cursor of the page before, if any, so
// that every page has the same filters.
export function sessionsQuery(filters, limit, before) {
  const q = new URLSearchParams();
  for (const [name, v] of Object.entries(selection(filters))) {
    for (const one of [].concat(v)) q.append(name, one);
  }
  q.set('limit', String(limit));
  if (before) q.set('before', before);
  return q.toString();
}

// viewHash is the hash of view with filters: "#sessions?ip=...", or
// "#sessions" and "#activity" alone.
export function viewHash(view, filters) {
  const q = new URLSearchParams();
  if (view === 'sessions' && filters) {
    for (const name of FILTERS) {
      const v = (filters[name] || '').trim();
      if (v) q.set(name, v);
    }
  }
  const query = q.toString();
  return '#' + view + (query ? '?' + query : '');
}

// parseHash reads an address's hash: the view it names (#activity, else
// the sessions), and the sessions' filters in it, or null when it has none.
export function parseHash(hash) {
  const h = (hash || '').replace(/^#/, '');
  const at = h.indexOf('?');
  const name = at < 0 ? h : h.slice(0, at);
  const view = name === 'activity' ? 'activity' : 'sessions';
  if (view !== 'sessions' || at < 0) return { view, filters: null };
  return { view, filters: readFilters(new URLSearchParams(h.slice(at + 1))) };
}

// describeFilters says which filters are set, for the summary line and the
// question before a revocation: "user “alice”, active, from 10.0.0.0/8".
export function describeFilters(filters) {
  const f = (name) => (filters[name] || '').trim();
  const parts = [];
  if (f('user')) parts.push('user “' + f('user') + '”');
  if (f('state')) parts.push(f('state'));
  if (f('ip')) parts.push('from ' + f('ip'));
  if (f('created_after')) parts.push('created after ' + f('created_after'));
  if (f('created_before')) parts.push('created before ' + f('created_before'));
  if (f('user_agent')) parts.push('user agent contains “' + f('user_agent') + '”');
  if (f('via')) parts.push('via ' + f('via').toUpperCase());
  return parts.join(', ');
}

// fieldInError is the form field an API error names, or null: the API's
// 400 starts "invalid ip "300.1.1.1": ..." (sql.FieldError), and an empty
// range "created_before ... and created_after ... select nothing".
export function fieldInError(message) {
  const m = /^(?:invalid |active=true and )?([a-z_]+)\b/.exec(message || '');
  if (!m) return null;
  const name = m[1] === 'users' ? 'user' : m[1];
  return FILTERS.includes(name) ? name : null;
}
