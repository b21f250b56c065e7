// Unit tests of the Sessions view's filters: node --test pkg/server/jstest
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { describeFilters, emptyFilters, fieldInError, parseHash, readFilters, selection, sessionsQuery, viewHash } from '../assets/filters.mjs';
import { isLive, statusOf } from '../assets/view.mjs';

const every = {
  user: 'alice',
  state: 'active',
  ip: '10.0.0.0/8',
  created_after: '7d',
  created_before: '2026-11-30 12:00:00',
  user_agent: 'Firefox',
  via: 'http',
};

test('sessionsQuery: no filter is the page size alone', () => {
  assert.equal(sessionsQuery(emptyFilters(), 200, null), 'limit=200');
  assert.equal(sessionsQuery({}, 200, null), 'limit=200');
});

test('sessionsQuery: every filter by its selection field, user as users, trimmed', () => {
  assert.equal(
    sessionsQuery({ ...every, user: ' alice ', ip: ' 10.0.0.0/8' }, 200, null),
    'users=alice&state=active&ip=10.0.0.0%2F8&created_after=7d&created_before=2026-11-30+12%3A00%3A00' +
      '&user_agent=Firefox&via=http&limit=200',
  );
});

test('sessionsQuery: the next page keeps the filters and adds the cursor', () => {
  const first = sessionsQuery({ ip: '192.0.2.7', state: 'revoked' }, 200, null);
  const next = sessionsQuery({ ip: '192.0.2.7', state: 'revoked' }, 200, '917162776906956801');
  assert.equal(next, first + '&before=917162776906956801');
  // Anything else in the object is no filter of the API.
  assert.equal(sessionsQuery({ active: 'true', users: 'bob', limit: '5' }, 10, null), 'limit=10');
});

test('selection: the body of the revocation, the same fields the listing is asked for', () => {
  assert.deepEqual(selection(emptyFilters()), {});
  assert.deepEqual(selection({ ...emptyFilters(), user: 'many', state: 'active', ip: ' ' }), { users: ['many'], state: 'active' });
  const sel = selection(every);
  assert.deepEqual(Object.keys(sel), ['users', 'state', 'ip', 'created_after', 'created_before', 'user_agent', 'via']);
  // Every field of the query is a field of the body, and the other way round.
  const query = new URLSearchParams(sessionsQuery(every, 1, null));
  query.delete('limit');
  assert.deepEqual([...query.keys()], Object.keys(sel));
});

test('viewHash and parseHash: the filters survive the round trip, and only the sessions view has them', () => {
  assert.equal(viewHash('sessions', emptyFilters()), '#sessions');
  assert.equal(viewHash('activity', every), '#activity');
  const hash = viewHash('sessions', every);
  assert.equal(hash, '#sessions?user=alice&state=active&ip=10.0.0.0%2F8&created_after=7d' +
    '&created_before=2026-11-30+12%3A00%3A00&user_agent=Firefox&via=http');
  assert.deepEqual(parseHash(hash), { view: 'sessions', filters: every });
  // A value with the hash's own separators in it comes back as it was.
  const odd = { ...emptyFilters(), user_agent: 'a&b=c?#d + e' };
  assert.deepEqual(parseHash(viewHash('sessions', odd)).filters, odd);
});

test('parseHash: the view, and no filters unless the hash has some', () => {
  assert.deepEqual(parseHash(''), { view: 'sessions', filters: null });
  assert.deepEqual(parseHash('#sessions'), { view: 'sessions', filters: null });
  assert.deepEqual(parseHash('#activity'), { view: 'activity', filters: null });
  assert.deepEqual(parseHash('#activity?ip=10.0.0.1'), { view: 'activity', filters: null });
  assert.deepEqual(parseHash('#sessions?ip=10.0.0.1&bogus=1'), { view: 'sessions', filters: { ...emptyFilters(), ip: '10.0.0.1' } });
  // A value the form cannot show is kept: the server's 400 names it,
  // rather than its being dropped and every session shown.
  assert.equal(parseHash('#sessions?state=asleep').filters.state, 'asleep');
});

test('readFilters: the older names of a link, user, users and active=true', () => {
  assert.deepEqual(readFilters(new URLSearchParams('user=bob&active=true')), { ...emptyFilters(), user: 'bob', state: 'active' });
  assert.deepEqual(readFilters(new URLSearchParams('users=bob')), { ...emptyFilters(), user: 'bob' });
  assert.deepEqual(readFilters(new URLSearchParams('active=false')), emptyFilters());
  assert.deepEqual(readFilters(new URLSearchParams('state=revoked&active=true')), { ...emptyFilters(), state: 'revoked' });
});

test('describeFilters names what is set', () => {
  assert.equal(describeFilters(emptyFilters()), '');
  assert.equal(describeFilters(every), 'user “alice”, active, from 10.0.0.0/8, created after 7d, ' +
    'created before 2026-11-30 12:00:00, user agent contains “Firefox”, via HTTP');
});

test('fieldInError: the field the API names in its 400', () => {
  const cases = [
    ['invalid ip "300.1.1.1": want an IP address (203.0.113.7, 2001:db8::1) or a network', 'ip'],
    ['invalid users "": must not be empty', 'user'],
    ['invalid state "idle": no idle timeout applies (the setting idle-timeout, or serve --idle-timeout), so no session is idle', 'state'],
    ['invalid created_after "yesterday": want an RFC 3339 time', 'created_after'],
    ['created_before 2h and created_after 1h select nothing: the first must be later than the second', 'created_before'],
    ['active=true and state exclude each other: active=true is state=active', 'state'],
    ['invalid limit "0": want a whole number from 1 to 5000', null],
    ['admin role required', null],
    ['', null],
  ];
  for (const [message, want] of cases) assert.equal(fieldInError(message), want, message);
});

test('statusOf is the API’s status; idle sessions are live, not expired', () => {
  assert.equal(statusOf({ status: 'idle', active: false, revoked_at: null }), 'idle');
  assert.equal(isLive({ status: 'idle' }), true);
  assert.equal(isLive({ status: 'active' }), true);
  assert.equal(isLive({ status: 'expired' }), false);
  assert.equal(isLive({ status: 'revoked', revoke_reason: 'password changed' }), false);
});
