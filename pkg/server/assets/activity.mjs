// The Activity view: the audit trail, newest first, from
// GET /api/v1/admin/events, with the filters of the events command. The
// pure functions at the top are tested with Node's test runner
// (pkg/server/jstest); the rest works on the page. Data from the API only
// ever reaches the page through textContent and attributes.

import { exactUTC } from './time.mjs';
import { describeClient } from './useragent.mjs';
import { plural, timeElement } from './view.mjs';

// FILTERS are the view's filters: the form's field names, which are the
// API's query parameters.
export const FILTERS = ['user', 'event', 'session', 'ip'];

// eventsQuery is the query string of one page: the filters that are set,
// the page size, and the cursor of the page before, if any.
export function eventsQuery(filters, limit, before) {
  const q = new URLSearchParams();
  for (const name of FILTERS) {
    const v = (filters[name] || '').trim();
    if (v) q.set(name, v);
  }
  q.set('limit', String(limit));
  if (before) q.set('before', before);
  return q.toString();
}

// describeFilters says which filters are set, for the summary line.
export function describeFilters(filters) {
  const parts = [];
  if (filters.user) parts.push('user “' + filters.user + '”');
  if (filters.event) parts.push(filters.event);
  if (filters.session) parts.push('session ' + filters.session);
  if (filters.ip) parts.push('from ' + filters.ip);
  return parts.join(', ');
}

// words turns a detail key into words: "keep_current" is "keep current".
function words(key) {
  return key.replace(/_/g, ' ');
}

// describeValue is one detail value as text: times (keys ending in _at)
// as the exact UTC time, objects and lists as compact JSON.
function describeValue(key, v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return key.endsWith('_at') ? exactUTC(v) : v;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// describeDetail is an event's detail object as one line of text:
// "revoked: 3 · reason: lost laptop".
export function describeDetail(detail) {
  if (!detail || typeof detail !== 'object') return '';
  return Object.keys(detail)
    .map((k) => words(k) + ': ' + describeValue(k, detail[k]))
    .join(' · ');
}

// eventKind is the colour class of an event type: what it did to access.
export function eventKind(type) {
  if (type === 'session.created' || type === 'user.unlocked') return 'granted';
  if (type.startsWith('login.')) return 'refused';
  if (type.startsWith('retention.') || type === 'throttle.cleared') return 'housekeeping';
  return 'ended';
}

// ---- the page --------------------------------------------------------------

function clone(id) {
  const el = document.getElementById(id).content.firstElementChild.cloneNode(true);
  return [el, (part) => el.querySelector('[data-part="' + part + '"]')];
}

function sub(text, title) {
  const el = document.createElement('span');
  el.className = 'sub';
  el.textContent = text;
  if (title) el.title = title;
  return el;
}

// eventRow is the table row of one event.
export function eventRow(e) {
  const [tr, part] = clone('event-row-template');
  tr.dataset.id = e.id;
  part('time').appendChild(timeElement(e.at));
  const type = part('type');
  type.textContent = e.event;
  type.classList.add('event-' + eventKind(e.event));
  part('user').textContent = e.username || '—';
  part('session').textContent = e.session_id || '—';
  part('actor').textContent = e.actor || '—';
  if (e.via) part('actor-cell').appendChild(sub('via ' + e.via.toUpperCase()));
  part('client').textContent = e.client_addr || '—';
  if (e.user_agent) part('client-cell').appendChild(sub(describeClient(e.user_agent), e.user_agent));
  const detail = describeDetail(e.detail);
  part('detail').textContent = detail;
  part('detail').title = JSON.stringify(e.detail || {});
  return tr;
}

const PAGE_SIZE = 100;

// createActivity wires the view's controls to the API. onError(prefix,
// err) reports a failure (a 401 signs the page out).
export function createActivity({ api, maxPageLimit, eventTypes, onError }) {
  const $ = (id) => document.getElementById(id);
  const state = { events: [], next: null, filters: {}, loadSeq: 0 };

  const select = $('activity-event');
  for (const type of eventTypes) {
    const option = document.createElement('option');
    option.value = type;
    option.textContent = type;
    select.appendChild(option);
  }

  function render() {
    const body = $('activity-rows');
    body.replaceChildren(...state.events.map(eventRow));
    const n = state.events.length;
    $('activity-empty').hidden = n > 0;
    $('activity-table').hidden = n === 0;
    $('activity-more').hidden = state.next === null;
    const parts = [plural(n, 'event') + ', newest first'];
    const filters = describeFilters(state.filters);
    if (filters) parts.push(filters);
    if (state.next !== null) parts.push('more to load');
    $('activity-summary').textContent = parts.join(' · ');
  }

  function status(message) {
    $('activity-status').textContent = message;
    $('activity-status').hidden = !message;
  }

  async function load({ append = false } = {}) {
    const seq = ++state.loadSeq;
    const table = $('activity-table');
    table.setAttribute('aria-busy', 'true');
    try {
      const limit = Math.min(PAGE_SIZE, maxPageLimit);
      const data = await api('GET', '/api/v1/admin/events?' + eventsQuery(state.filters, limit, append ? state.next : null));
      if (seq !== state.loadSeq) return;
      const rows = Array.isArray(data && data.events) ? data.events : [];
      state.events = append ? state.events.concat(rows) : rows;
      state.next = data && data.next != null ? String(data.next) : null;
      status('');
      render();
    } catch (err) {
      if (seq !== state.loadSeq) return;
      status('Could not load the activity: ' + err.message);
      onError(err);
    } finally {
      if (seq === state.loadSeq) table.removeAttribute('aria-busy');
    }
  }

  function readForm() {
    const filters = {};
    for (const name of FILTERS) filters[name] = $('activity-' + name).value.trim();
    return filters;
  }

  $('activity-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters = readForm();
    load();
  });
  $('activity-clear').addEventListener('click', () => {
    for (const name of FILTERS) $('activity-' + name).value = '';
    state.filters = {};
    load();
    $('activity-user').focus();
  });
  $('activity-refresh').addEventListener('click', () => load());
  $('activity-more').addEventListener('click', () => load({ append: true }));

  return { load };
}
