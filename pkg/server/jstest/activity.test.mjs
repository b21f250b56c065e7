// Unit tests of the Activity view's pure functions: node --test pkg/server/jstest
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { describeDetail, describeFilters, eventKind, eventsQuery } from '../assets/activity.mjs';

test('eventsQuery: the filters set, trimmed, the page size and the cursor', () => {
  assert.equal(eventsQuery({}, 100, null), 'limit=100');
  assert.equal(
    eventsQuery({ user: ' alice ', event: 'session.revoked', session: '', ip: '203.0.113.0/24' }, 50, '917162776906956801'),
    'user=alice&event=session.revoked&ip=203.0.113.0%2F24&limit=50&before=917162776906956801',
  );
  // Anything else in the object is not a filter of the API.
  assert.equal(eventsQuery({ active: 'true', user: 'bob' }, 10), 'user=bob&limit=10');
});

test('describeFilters names what is set', () => {
  assert.equal(describeFilters({}), '');
  assert.equal(describeFilters({ user: 'alice', event: 'login.failed', session: '7', ip: '10.0.0.0/8' }),
    'user “alice”, login.failed, session 7, from 10.0.0.0/8');
});

test('describeDetail: one line, words for keys, times in UTC, objects as JSON', () => {
  assert.equal(describeDetail({}), '');
  assert.equal(describeDetail(null), '');
  assert.equal(describeDetail({ keep_current: false, revoked: 1 }), 'keep current: false · revoked: 1');
  assert.equal(describeDetail({ expires_at: '2026-11-22T21:07:49.523313Z' }), 'expires at: 2026-11-22 21:07:49 UTC');
  assert.equal(describeDetail({ reason: 'incident 42', revoked: 2, selection: { ip: '127.0.0.1' }, users: ['a', 'b'], none: null }),
    'reason: incident 42 · revoked: 2 · selection: {"ip":"127.0.0.1"} · users: ["a","b"] · none: —');
  // Text that looks like markup stays text: the view sets textContent.
  assert.equal(describeDetail({ reason: '<b>x</b>' }), 'reason: <b>x</b>');
});

test('eventKind: granted, ended, refused or housekeeping', () => {
  for (const t of ['session.created', 'user.unlocked']) assert.equal(eventKind(t), 'granted', t);
  for (const t of ['session.revoked', 'sessions.revoked', 'user.logged_out', 'user.locked']) assert.equal(eventKind(t), 'ended', t);
  for (const t of ['login.failed', 'login.locked', 'login.throttled']) assert.equal(eventKind(t), 'refused', t);
  for (const t of ['retention.batch', 'retention.purged', 'throttle.cleared']) assert.equal(eventKind(t), 'housekeeping', t);
});
