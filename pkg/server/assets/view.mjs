// The session table's rows, cloned from the page's <template> elements.
// Data from the API only ever reaches the page through textContent and
// attributes, never as HTML.

import { exactUTC, relative } from './time.mjs';
import { describeClient } from './useragent.mjs';

// statusOf is the session's status as the API reads it by the database
// clock and serve's idle timeout: active, idle, expired or revoked.
export function statusOf(s) {
  return s.status;
}

// isLive says whether a session is neither revoked nor expired: active, or
// idle, which serve refuses but a longer idle-timeout would accept, and
// which a revocation therefore still ends for good.
export function isLive(s) {
  return s.status === 'active' || s.status === 'idle';
}

export function plural(n, word) {
  return n + ' ' + word + (n === 1 ? '' : 's');
}

export function groupByUser(sessions) {
  const groups = new Map();
  for (const s of sessions) {
    if (!groups.has(s.username)) groups.set(s.username, []);
    groups.get(s.username).push(s);
  }
  return groups;
}

export function timeElement(iso) {
  const t = document.createElement('time');
  t.className = 'rel';
  t.dateTime = iso;
  t.title = exactUTC(iso);
  t.textContent = relative(iso, Date.now());
  return t;
}

export function refreshTimes() {
  const now = Date.now();
  for (const t of document.querySelectorAll('time.rel')) {
    t.textContent = relative(t.dateTime, now);
  }
}

function span(className, text) {
  const el = document.createElement('span');
  el.className = className;
  el.textContent = text;
  return el;
}

// clone returns a copy of the first element of template id and a function
// that finds its parts by their data-part attribute.
function clone(id) {
  const el = document.getElementById(id).content.firstElementChild.cloneNode(true);
  return [el, (part) => el.querySelector('[data-part="' + part + '"]')];
}

export function sessionRow(s) {
  const status = statusOf(s);
  const [tr, part] = clone('session-row-template');
  tr.classList.add('session-' + status);
  tr.dataset.id = s.id;

  part('id').textContent = s.id;
  if (s.current) part('id-cell').appendChild(span('tag tag-current', 'you'));

  const badge = part('badge');
  badge.classList.add('badge-' + status);
  badge.textContent = status;
  // Why, when the server recorded it: "revoked (password changed)".
  if (s.revoke_reason) badge.after(span('reason', ' (' + s.revoke_reason + ')'));
  if (status === 'revoked') {
    const when = document.createElement('div');
    when.className = 'sub';
    when.appendChild(timeElement(s.revoked_at));
    part('status').appendChild(when);
  }

  part('created').appendChild(timeElement(s.created_at));
  if (s.last_used_at) part('used').appendChild(timeElement(s.last_used_at));
  else part('used').textContent = '—';
  // Where the last use came from, when that is not the login's client (a
  // stolen cookie, say, or the first request of a session the CLI made).
  const lastSeen = [s.last_ip, describeClient(s.last_user_agent)].filter(Boolean);
  if (lastSeen.length && (s.last_ip !== s.ip || s.last_user_agent !== s.user_agent)) {
    const sub = span('sub', 'from ' + lastSeen.join(' · '));
    if (s.last_user_agent) sub.title = s.last_user_agent;
    part('used').appendChild(sub);
  }
  const expires = part('expires');
  if (!isLive(s)) expires.className = 'past';
  expires.appendChild(timeElement(s.expires_at));

  part('ip').textContent = s.ip || '—';
  const detail = [describeClient(s.user_agent), s.via ? 'via ' + s.via.toUpperCase() : ''].filter(Boolean);
  if (detail.length) {
    const sub = span('sub ua', detail.join(' · '));
    if (s.user_agent) sub.title = s.user_agent;
    part('client').appendChild(sub);
  }

  const revoke = part('revoke');
  if (isLive(s)) {
    revoke.dataset.id = s.id;
    revoke.setAttribute('aria-label', 'Revoke session ' + s.id + ' of ' + s.username);
  } else {
    revoke.remove();
  }
  return tr;
}

// groupHead is the heading row of username's sessions. moreToLoad says
// whether rows beyond the loaded pages may still be live.
export function groupHead(username, sessions, moreToLoad) {
  const active = sessions.filter((s) => statusOf(s) === 'active').length;
  const live = sessions.filter(isLive).length;
  const [tr, part] = clone('group-head-template');
  part('user').textContent = username;
  part('counts').textContent = plural(sessions.length, 'session') + ' · ' + active + ' active';
  const b = part('logout');
  b.dataset.user = username;
  b.setAttribute('aria-label', 'Log out all devices of ' + username);
  b.disabled = live === 0 && !moreToLoad;
  return tr;
}
