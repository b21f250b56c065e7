// The session table's rows, cloned from the page's <template> elements.
// Data from the API only ever reaches the page through textContent and
// attributes, never as HTML.

import { exactUTC, relative } from './time.mjs';
import { describeClient } from './useragent.mjs';

export function statusOf(s) {
  if (s.revoked_at) return 'revoked';
  return s.active ? 'active' : 'expired';
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
  if (status === 'revoked') {
    const when = document.createElement('div');
    when.className = 'sub';
    when.appendChild(timeElement(s.revoked_at));
    part('status').appendChild(when);
  }

  part('created').appendChild(timeElement(s.created_at));
  if (s.last_used_at) part('used').appendChild(timeElement(s.last_used_at));
  else part('used').textContent = '—';
  const expires = part('expires');
  if (status !== 'active') expires.className = 'past';
  expires.appendChild(timeElement(s.expires_at));

  part('ip').textContent = s.ip || '—';
  const detail = [describeClient(s.user_agent), s.via ? 'via ' + s.via.toUpperCase() : ''].filter(Boolean);
  if (detail.length) {
    const sub = span('sub ua', detail.join(' · '));
    if (s.user_agent) sub.title = s.user_agent;
    part('client').appendChild(sub);
  }

  const revoke = part('revoke');
  if (status === 'active') {
    revoke.dataset.id = s.id;
    revoke.setAttribute('aria-label', 'Revoke session ' + s.id + ' of ' + s.username);
  } else {
    revoke.remove();
  }
  return tr;
}

// groupHead is the heading row of username's sessions. moreToLoad says
// whether rows beyond the loaded pages may still be active.
export function groupHead(username, sessions, moreToLoad) {
  const active = sessions.filter((s) => statusOf(s) === 'active').length;
  const [tr, part] = clone('group-head-template');
  part('user').textContent = username;
  part('counts').textContent = plural(sessions.length, 'session') + ' · ' + active + ' active';
  const b = part('logout');
  b.dataset.user = username;
  b.setAttribute('aria-label', 'Log out all devices of ' + username);
  b.disabled = active === 0 && !moreToLoad;
  return tr;
}
