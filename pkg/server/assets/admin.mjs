// The admin sessions page. It signs in with the API login, which sets the
// HttpOnly session cookie, and from then on calls the admin API with that
// cookie. This module holds the page's state and actions; api.mjs calls
// the server, view.mjs builds the rows, time.mjs and useragent.mjs format,
// filters.mjs reads and writes the filters (a selection of the admin API,
// kept in the hash: #sessions?ip=...), activity.mjs is the Activity view
// (#activity), the audit trail.

import { createActivity } from './activity.mjs';
import { newAPI } from './api.mjs';
import { FILTERS, describeFilters, emptyFilters, fieldInError, parseHash, readFilters, selection, sessionsQuery, viewHash } from './filters.mjs';
import { groupByUser, groupHead, plural, refreshTimes, sessionRow, statusOf } from './view.mjs';

const $ = (id) => document.getElementById(id);

// config is what the server hands the page (admin.html's meta tags), so
// that the CSRF header and the page size limit are written once, in Go.
const config = {
  csrfHeader: document.querySelector('meta[name="auth-session-csrf-header"]').content,
  maxPageLimit: Number(document.querySelector('meta[name="auth-session-max-page-limit"]').content),
  eventTypes: document.querySelector('meta[name="auth-session-event-types"]').content.split(' ').filter(Boolean),
};
const api = newAPI(config.csrfHeader);

// PAGE_SIZE is how many sessions a page loads: enough to scroll, few
// enough to draw at once.
const PAGE_SIZE = 200;
const SIGNED_OUT = 'Your session has ended. Sign in again.';

const state = {
  me: null, // {username} from whoami or the login
  sessions: [], // as the API lists them: newest first
  next: null, // the API's cursor for the next page, or null
  filters: emptyFilters(), // as filters.mjs reads them
  loadSeq: 0, // answers to an older load are dropped
};

function showSignIn(message, isError) {
  state.me = null;
  state.sessions = [];
  state.next = null;
  $('sessions-view').hidden = true;
  $('activity-view').hidden = true;
  $('views').hidden = true;
  $('account').hidden = true;
  $('signin-view').hidden = false;
  const box = $('signin-error');
  box.textContent = message || '';
  box.className = 'notice ' + (isError === false ? 'notice-info' : 'notice-error');
  box.hidden = !message;
  $('signin-password').value = '';
  const user = $('signin-username');
  (user.value ? $('signin-password') : user).focus();
}

// currentView is the view the address names: #activity, else the sessions.
function currentView() {
  return parseHash(window.location.hash).view;
}

// showView shows one of the signed-in views, and marks its link current.
function showView(view) {
  $('sessions-view').hidden = view !== 'sessions';
  $('activity-view').hidden = view !== 'activity';
  for (const a of document.querySelectorAll('#views a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = (view === 'activity' ? 'Activity' : 'Sessions') + ' · auth-session admin';
}

// loadView loads the data of the view shown.
function loadView() {
  return currentView() === 'activity' ? activity.load() : load();
}

function showSessions() {
  $('signin-view').hidden = true;
  showView(currentView());
  $('views').hidden = false;
  $('account').hidden = false;
  $('account-name').textContent = state.me.username;
  fillForm();
}

// fillForm shows the applied filters in the form.
function fillForm() {
  for (const name of FILTERS) $('filter-' + name).value = state.filters[name];
}

let feedbackSeq = 0;

function feedback(message, kind) {
  const box = $('feedback');
  const seq = ++feedbackSeq;
  // Emptying first, and filling a moment later, makes screen readers
  // announce a message even when it repeats the previous one.
  box.textContent = '';
  box.className = 'feedback feedback-' + (kind || 'success');
  window.setTimeout(() => {
    if (seq === feedbackSeq) box.textContent = message;
  }, 30);
}

function clearFeedback() {
  feedbackSeq++;
  $('feedback').textContent = '';
  $('feedback').className = 'feedback';
}

// handleError shows err; a 401 means the session is gone: back to sign-in.
function handleError(prefix, err) {
  if (err.status === 401) {
    showSignIn(SIGNED_OUT, true);
    return;
  }
  feedback(prefix + ': ' + err.message, 'error');
}

function render() {
  const table = $('sessions-table');
  for (const body of table.querySelectorAll('tbody')) body.remove();
  const groups = groupByUser(state.sessions);
  for (const [username, sessions] of groups) {
    const body = document.createElement('tbody');
    body.className = 'group';
    body.dataset.user = username;
    body.appendChild(groupHead(username, sessions, state.next !== null));
    for (const s of sessions) body.appendChild(sessionRow(s));
    table.appendChild(body);
  }
  const total = state.sessions.length;
  $('empty').hidden = total > 0;
  table.hidden = total === 0;
  $('load-more').hidden = state.next === null;

  const active = state.sessions.filter((s) => statusOf(s) === 'active').length;
  const parts = [
    plural(total, 'session') + ' of ' + plural(groups.size, 'user'),
    active + ' active',
  ];
  const filters = describeFilters(state.filters);
  if (filters) parts.push(filters);
  if (state.next !== null) parts.push('more to load');
  $('summary').textContent = parts.join(' · ');
}

// focusFirst focuses the first of the candidate elements that can take
// focus, so that focus is never lost when a re-render removes a button.
function focusFirst(...candidates) {
  for (const el of candidates) {
    if (el && !el.disabled && !el.hidden && el.isConnected) {
      el.focus();
      return;
    }
  }
  $('sessions-title').focus();
}

// ---- loading -----------------------------------------------------------

// load fetches the first page, or with append the next one. keepCount
// fetches at least as many rows as are shown, so that a refresh after an
// action does not drop the pages already loaded.
async function load({ append = false, keepCount = false } = {}) {
  const seq = ++state.loadSeq;
  let limit = Math.min(PAGE_SIZE, config.maxPageLimit);
  if (keepCount) limit = Math.min(config.maxPageLimit, Math.max(PAGE_SIZE, state.sessions.length));
  const query = sessionsQuery(state.filters, limit, append ? state.next : null);

  const table = $('sessions-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const data = await api('GET', '/api/v1/admin/sessions?' + query);
    if (seq !== state.loadSeq) return;
    const rows = Array.isArray(data && data.sessions) ? data.sessions : [];
    state.sessions = append ? state.sessions.concat(rows) : rows;
    state.next = data && data.next != null ? String(data.next) : null;
    setForbidden(false);
    showFilterError('');
    render();
  } catch (err) {
    if (seq !== state.loadSeq) return;
    if (err.status === 400) {
      // A filter the server refused: its message names the field and the
      // value. No row is shown as if it matched.
      state.sessions = [];
      state.next = null;
      render();
      $('summary').textContent = 'No sessions shown: a filter was refused.';
      showFilterError(err.message);
      return;
    }
    if (err.status === 403) {
      state.sessions = [];
      state.next = null;
      render();
      setForbidden(true);
      $('summary').textContent = 'Signed in as ' + state.me.username +
        ', which is neither a superuser nor a member of admin. Sign out and sign in as an administrator.';
    }
    handleError('Could not load sessions', err);
  } finally {
    if (seq === state.loadSeq) table.removeAttribute('aria-busy');
  }
}

// showFilterError shows the API's refusal of a filter next to the form, and
// marks the field it names; an empty message clears both.
function showFilterError(message) {
  const box = $('filter-error');
  box.textContent = message;
  box.hidden = !message;
  const field = fieldInError(message);
  for (const name of FILTERS) {
    const input = $('filter-' + name);
    if (message && name === field) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'filter-error');
    } else {
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-describedby');
    }
  }
}

// setForbidden hides what a caller who is no admin cannot use.
function setForbidden(forbidden) {
  for (const id of ['filters', 'refresh', 'table-wrap']) $(id).hidden = forbidden;
}

// ---- actions -----------------------------------------------------------

async function revoke(btn) {
  const id = btn.dataset.id;
  const s = state.sessions.find((x) => x.id === id);
  if (!s) return;
  if (s.current && !window.confirm('Session ' + id + ' is the one you are signed in with. Revoking it signs you out. Revoke it?')) {
    return;
  }
  btn.disabled = true;
  btn.textContent = 'Revoking…';
  try {
    const data = await api('DELETE', '/api/v1/admin/sessions/' + encodeURIComponent(id));
    const updated = data && data.session ? data.session : { ...s, active: false, status: 'revoked', revoked_at: new Date().toISOString() };
    state.sessions = state.sessions.map((x) => (x.id === id ? { ...x, ...updated } : x));
    if (s.current) {
      showSignIn('You revoked your own session ' + id + '. Sign in again.', false);
      return;
    }
    render();
    feedback('Session ' + id + ' of ' + s.username + ' revoked.');
    focusNextAfter(id, s.username);
  } catch (err) {
    if (btn.isConnected) {
      btn.disabled = false;
      btn.textContent = 'Revoke';
    }
    handleError('Could not revoke session ' + id, err);
  }
}

// focusNextAfter moves focus to the next Revoke button below the revoked
// row, for revoking several in a row, or else to the user's group.
function focusNextAfter(id, username) {
  const buttons = [...document.querySelectorAll('#sessions-table button[data-action="revoke"]')];
  const row = document.querySelector('#sessions-table tr[data-id="' + CSS.escape(id) + '"]');
  const next = row ? buttons.find((b) => row.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING) : null;
  focusFirst(next, groupButton(username), $('filter-user'));
}

function groupButton(username) {
  for (const b of document.querySelectorAll('#sessions-table button[data-action="logout-user"]')) {
    if (b.dataset.user === username) return b;
  }
  return null;
}

async function logoutUser(btn) {
  const user = btn.dataset.user;
  const mine = state.me && user === state.me.username;
  const question = 'Log out all devices of ' + user + '? Every active session of ' + user + ' is revoked' +
    (mine ? ', including the one you are signed in with: you will be signed out.' : '.');
  if (!window.confirm(question)) return;
  btn.disabled = true;
  btn.textContent = 'Logging out…';
  try {
    const data = await api('POST', '/api/v1/admin/users/' + encodeURIComponent(user) + '/logout');
    const n = data && Number.isInteger(data.revoked) ? data.revoked : 0;
    if (mine) {
      showSignIn('Logged out ' + plural(n, 'session') + ' of ' + user + ', including yours. Sign in again.', false);
      return;
    }
    await load({ keepCount: true });
    feedback(n === 0 ? user + ' had no active sessions to log out.' : 'Logged out ' + plural(n, 'session') + ' of ' + user + '.');
    focusFirst(groupButton(user), $('filter-user'));
  } catch (err) {
    if (btn.isConnected) {
      btn.disabled = false;
      btn.textContent = 'Log out all devices';
    }
    handleError('Could not log out ' + user, err);
  }
}

// matchingSelection is the applied filters as the selection of the
// revocation route, the very one the listing is asked for, or null when
// they match every session.
function matchingSelection() {
  const sel = selection(state.filters);
  return Object.keys(sel).length ? sel : null;
}

// revokeMatching revokes every session the applied filters match, on the
// server and beyond the loaded pages: a dry run first says how many, and
// nothing happens unless the admin confirms that count.
async function revokeMatching(btn) {
  const sel = matchingSelection();
  if (!sel) return;
  btn.disabled = true;
  try {
    const dry = await api('POST', '/api/v1/admin/sessions/revoke', JSON.stringify({ ...sel, dry_run: true }), 'application/json');
    if (!dry || dry.revoked === 0) {
      feedback('No session that is not revoked yet matches these filters (' + describeFilters(state.filters) + ').');
      return;
    }
    const question = 'Revoke ' + plural(dry.revoked, 'session') + ' of ' + plural(dry.users, 'user') +
      ' matching these filters (' + describeFilters(state.filters) + ')?';
    if (!window.confirm(question)) return;
    btn.textContent = 'Revoking…';
    const done = await api('POST', '/api/v1/admin/sessions/revoke', JSON.stringify(sel), 'application/json');
    await load({ keepCount: true });
    feedback('Revoked ' + plural(done.revoked, 'session') + ' of ' + plural(done.users, 'user') + '.');
  } catch (err) {
    handleError('Could not revoke the matching sessions', err);
  } finally {
    if (btn.isConnected) {
      btn.textContent = 'Revoke all matching';
      updateRevokeMatching();
    }
  }
}

// updateRevokeMatching disables the action while the filters match every
// session: logging everyone out is the CLI's logout --all.
function updateRevokeMatching() {
  const btn = $('revoke-matching');
  btn.disabled = matchingSelection() === null;
  btn.title = btn.disabled ? 'Apply a filter first' : 'Revoke every session the applied filters match, on every page';
}

async function signIn(event) {
  event.preventDefault();
  const username = $('signin-username').value.trim();
  const password = $('signin-password').value;
  const box = $('signin-error');
  if (!username || !password) {
    box.className = 'notice notice-error';
    box.textContent = 'Enter a user name and a password.';
    box.hidden = false;
    (username ? $('signin-password') : $('signin-username')).focus();
    return;
  }
  const submit = $('signin-submit');
  submit.disabled = true;
  submit.textContent = 'Signing in…';
  try {
    const data = await api('POST', '/api/v2/login/', new URLSearchParams({ username, password }));
    state.me = { username: data.username || username };
    $('signin-password').value = '';
    box.hidden = true;
    showSessions();
    clearFeedback();
    $(currentView() + '-title').focus();
    await loadView();
  } catch (err) {
    box.className = 'notice notice-error';
    // Every refused login gets the same 401, whatever the reason; say
    // what it may mean here.
    box.textContent = err.status === 401
      ? 'Sign-in refused: wrong user name or password, or this role may not log in.'
      : 'Sign-in failed: ' + err.message;
    box.hidden = false;
    $('signin-password').value = '';
    $('signin-password').focus();
  } finally {
    submit.disabled = false;
    submit.textContent = 'Sign in';
  }
}

async function signOut() {
  try {
    await api('POST', '/api/v2/logout/');
  } catch (err) {
    if (err.status !== 401) {
      feedback('Could not sign out: ' + err.message, 'error');
      return;
    }
  }
  showSignIn('Signed out.', false);
}

// ---- filters -----------------------------------------------------------

// readFiltersFromURL takes the filters from the hash (#sessions?ip=...),
// or from the query string of an older link (?user=alice&active=true),
// which it moves into the hash.
function readFiltersFromURL() {
  const { view, filters } = parseHash(window.location.hash);
  if (filters) {
    state.filters = filters;
  } else if (window.location.search) {
    state.filters = readFilters(new URLSearchParams(window.location.search));
    window.history.replaceState(null, '', window.location.pathname + viewHash(view, state.filters));
  }
  updateSessionsLink();
}

// writeFiltersToURL keeps the applied filters in the hash, so that a
// reload keeps them, without adding a step to the history.
function writeFiltersToURL() {
  window.history.replaceState(null, '', window.location.pathname + viewHash('sessions', state.filters));
  updateSessionsLink();
}

// updateSessionsLink makes the top bar's Sessions link carry the applied
// filters, so that coming back from the Activity view keeps them.
function updateSessionsLink() {
  document.querySelector('#views a[data-view="sessions"]').setAttribute('href', viewHash('sessions', state.filters));
}

function applyFilters(event) {
  if (event) event.preventDefault();
  const filters = emptyFilters();
  for (const name of FILTERS) filters[name] = $('filter-' + name).value.trim();
  state.filters = filters;
  writeFiltersToURL();
  updateRevokeMatching();
  clearFeedback();
  load();
}

// ---- start -------------------------------------------------------------

async function start() {
  readFiltersFromURL();
  $('signin-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('filters').addEventListener('submit', applyFilters);
  $('filter-clear').addEventListener('click', () => {
    for (const name of FILTERS) $('filter-' + name).value = '';
    applyFilters();
    $('filter-user').focus();
  });
  $('refresh').addEventListener('click', () => load({ keepCount: true }));
  $('revoke-matching').addEventListener('click', (event) => revokeMatching(event.currentTarget));
  updateRevokeMatching();
  $('load-more').addEventListener('click', async () => {
    await load({ append: true });
    focusFirst($('load-more'), $('sessions-title'));
  });
  $('sessions-table').addEventListener('click', (event) => {
    const btn = event.target.closest('button[data-action]');
    if (!btn || btn.disabled) return;
    if (btn.dataset.action === 'revoke') revoke(btn);
    if (btn.dataset.action === 'logout-user') logoutUser(btn);
  });
  window.setInterval(refreshTimes, 30000);

  try {
    const me = await api('GET', '/api/v2/whoami');
    state.me = { username: me.username };
  } catch (err) {
    showSignIn(err.status === 401 ? '' : 'Could not reach the server: ' + err.message, true);
    return;
  }
  showSessions();
  await loadView();
}

const activity = createActivity({
  api,
  maxPageLimit: config.maxPageLimit,
  eventTypes: config.eventTypes,
  onError: (err) => {
    if (err.status === 401) showSignIn(SIGNED_OUT, true);
  },
});

// Following a view's link shows it, with fresh data, once signed in.
// A hash with filters (a link, or one typed) applies them.
window.addEventListener('hashchange', () => {
  const { filters } = parseHash(window.location.hash);
  if (filters) {
    state.filters = filters;
    updateSessionsLink();
    updateRevokeMatching();
    fillForm();
  }
  if (!state.me) return;
  showView(currentView());
  $(currentView() + '-title').focus();
  loadView();
});

start();
