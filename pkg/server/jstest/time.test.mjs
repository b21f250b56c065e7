// Unit tests of the admin page's time formatting: node --test pkg/server/jstest
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { exactUTC, relative } from '../assets/time.mjs';

const now = Date.parse('2026-03-01T10:00:00Z');

test('relative: the past and the future, each unit', () => {
  const cases = [
    ['2026-03-01T10:00:00Z', 'just now'],
    ['2026-03-01T09:59:55Z', 'just now'],
    ['2026-03-01T10:00:05Z', 'in a few seconds'],
    ['2026-03-01T09:59:30Z', '30 seconds ago'],
    ['2026-03-01T09:58:00Z', '2 minutes ago'],
    ['2026-03-01T10:44:00Z', 'in 44 minutes'],
    ['2026-03-01T10:45:00Z', 'in 1 hour'],
    ['2026-03-01T08:00:00Z', '2 hours ago'],
    ['2026-02-27T10:00:00Z', '2 days ago'],
    ['2026-05-01T10:00:00Z', 'in 2 months'],
    ['2023-03-01T10:00:00Z', '3 years ago'],
  ];
  for (const [iso, want] of cases) {
    assert.equal(relative(iso, now), want, iso);
  }
});

test('relative: 45 of a unit turn into the next one', () => {
  assert.equal(relative('2026-03-01T09:59:16Z', now), '44 seconds ago');
  assert.equal(relative('2026-03-01T09:59:15Z', now), '1 minute ago');
});

test('relative and exactUTC leave a time they cannot read as it is', () => {
  assert.equal(relative('not a time', now), 'not a time');
  assert.equal(exactUTC('not a time'), 'not a time');
});

test('exactUTC: seconds, in UTC, whatever the offset given', () => {
  assert.equal(exactUTC('2026-03-01T10:00:00.123456Z'), '2026-03-01 10:00:00 UTC');
  assert.equal(exactUTC('2026-03-01T12:30:00+02:00'), '2026-03-01 10:30:00 UTC');
});
