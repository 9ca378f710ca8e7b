// Human Handoff: the agent workspace (spec §14). One static page, no framework, no network but the API.
// Sections: config and helpers · session and sign-in (local, or OpenID Connect with PKCE) · the API ·
// live updates · pages (sign-in, inbox, handoff, settings, teams, metrics) · the router.

const CONFIG = window.HANDOFF_CONFIG || {};
const API_BASE = (CONFIG.apiBase || '').replace(/\/+$/, '');
const OIDC = CONFIG.oidc || null;
const LIVE_INTERVAL_MS = 1500; // a change shows within 2 s (spec §14)

const REASONS = ['refund_request', 'billing_issue', 'delivery_problem', 'account_access', 'sensitive_situation',
  'complex_troubleshooting', 'customer_request', 'other'];
const CHANNELS = ['chat', 'voice'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const STATES = ['waiting', 'ringing', 'assigned', 'resolved', 'returned_to_ai', 'ended', 'routed_to_ai', 'abandoned', 'ticketed'];
const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'],
  ['sat', 'Saturday'], ['sun', 'Sunday']];
const PURPOSES = { confirmation: 'Confirmation message', stall: 'Stall notice', fallback: 'Fallback message', reply: 'Reply', after_hours: 'After-hours message' };
const LABELS = {
  routed_to_ai: 'Routed to AI', returned_to_ai: 'Returned to AI', return_to_ai: 'Return to the AI', ai: 'AI',
  end_call: 'End the call', keep_waiting: 'Keep waiting', offer_ticket: 'Offer a ticket', already_active: 'Already active',
  after_hours: 'After hours',
};

// ---------------------------------------------------------------------------------------------
// Helpers

/** Builds an element: h('a', {href, class, onclick}, children…). Text is always text (no HTML). */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  const props = {};
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected') props[k] = v;
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  Object.assign(el, props); // after the children, so a <select> has its options
  return el;
}
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

function label(v) {
  if (v == null || v === '') return '—';
  if (LABELS[v]) return LABELS[v];
  const s = String(v).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
function options(values, current, { blank } = {}) {
  const opts = blank ? [h('option', { value: '' }, blank)] : [];
  for (const v of values) {
    const [val, text] = Array.isArray(v) ? v : [v, label(v)];
    opts.push(h('option', { value: val, selected: String(val) === String(current ?? '') }, text));
  }
  return opts;
}
/** A label inside a sentence: "returned to AI". */
const lc = (v) => label(v).toLowerCase().replace(/\bai\b/g, 'AI');
let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}
function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
function fmtDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}
const since = (iso) => fmtDuration((Date.now() - Date.parse(iso)) / 1000);
const isoDate = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

/** Elements with data-since="<RFC 3339>" show the time elapsed since then, updated every second. */
setInterval(() => { for (const el of $$('[data-since]')) el.textContent = since(el.dataset.since); }, 1000);

/** A message box: role=alert for problems (read out at once), role=status for news. */
function notice(kind, ...content) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' || kind === 'warn' ? 'alert' : 'status' }, ...content);
}
function show(container, node) { container.replaceChildren(...(node ? [node] : [])); }

// ---------------------------------------------------------------------------------------------
// Session and sign-in

const session = {
  get() { try { return JSON.parse(sessionStorage.getItem('hh.session')); } catch { return null; } },
  set(s) { sessionStorage.setItem('hh.session', JSON.stringify(s)); },
  clear() { sessionStorage.removeItem('hh.session'); },
};
let signOutReason = '';
let afterSignIn = '#/inbox'; // the page asked for before signing in

function jwtClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent([...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    return JSON.parse(json);
  } catch { return {}; }
}

function signOut(reason = '') {
  session.clear();
  teamsPromise = null;
  $('#alerts').replaceChildren();
  live.stop();
  signOutReason = reason;
  if (location.hash === '#/sign-in') route(); else location.hash = '#/sign-in';
}

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

async function oidcDiscovery() {
  const res = await fetch(`${OIDC.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`The identity provider's configuration could not be read (HTTP ${res.status}).`);
  return res.json();
}

/** OpenID Connect, authorization code with PKCE: off to the provider's sign-in page. */
async function oidcStart(next) {
  const d = await oidcDiscovery();
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(48)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem('hh.pkce', JSON.stringify({ verifier, state, next }));
  const url = new URL(d.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: OIDC.clientId, redirect_uri: OIDC.redirectUri, scope: OIDC.scope || 'openid',
    state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  location.assign(url.toString());
}

/** Back from the provider with ?code=…&state=…: exchange the code for tokens. Returns the page to show. */
async function oidcFinish() {
  const q = new URLSearchParams(location.search);
  if (!q.has('code') && !q.has('error')) return null;
  history.replaceState(null, '', location.pathname);
  const saved = JSON.parse(sessionStorage.getItem('hh.pkce') || 'null');
  sessionStorage.removeItem('hh.pkce');
  if (q.has('error')) throw new Error(`Sign-in failed: ${q.get('error_description') || q.get('error')}.`);
  if (!saved || saved.state !== q.get('state')) throw new Error('Sign-in failed: the answer does not belong to this sign-in attempt. Try again.');
  const d = await oidcDiscovery();
  const res = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: q.get('code'), redirect_uri: OIDC.redirectUri,
      client_id: OIDC.clientId, code_verifier: saved.verifier,
    }),
  });
  const t = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`Sign-in failed: ${t.error_description || t.error || `HTTP ${res.status}`}.`);
  const token = (OIDC.token === 'access_token' ? t.access_token : t.id_token) || t.access_token;
  const c = jwtClaims(token);
  const names = { workspace_id: 'workspace_id', role: 'role', ...(OIDC.claims || {}) };
  const s = { token, user_id: c.sub, workspace_id: c[names.workspace_id], role: c[names.role], expires_at: c.exp ? c.exp * 1000 : null };
  if (!s.user_id || !s.workspace_id || !s.role) throw new Error('Sign-in failed: the token lacks the sub, workspace_id or role claim.');
  session.set(s);
  return saved.next || '#/inbox';
}

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || (body && body.message) || (status ? `HTTP ${status}` : 'Cannot reach the server.'));
    this.status = status;
    this.code = e.code || null;
    this.fields = e.fields || [];
    this.current = body && body.current;
  }
}

/** Calls /v1/workspaces/{ws}{path}; answers the JSON body, throws ApiError. */
async function api(method, path, { body, query, headers } = {}) {
  const s = session.get();
  if (!s) throw new ApiError(401, { error: { message: 'Not signed in.' } });
  const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v != null && v !== '')).toString() : '';
  const url = `${API_BASE}/v1/workspaces/${encodeURIComponent(s.workspace_id)}${path}${qs ? `?${qs}` : ''}`;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: { Authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, null);
  }
  const data = await res.json().catch(() => null);
  if (res.status === 401) {
    signOut(`You were signed out: ${new ApiError(401, data).message}`);
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** A human sentence for an error (the API's message when it is the best we have). */
function explain(err) {
  if (!(err instanceof ApiError)) return String(err && err.message || err);
  if (err.status === 0) return 'Cannot reach the server. Check the connection and try again.';
  if (err.status === 403) return `You are not allowed to do this. (${err.message})`;
  if (err.status === 503) return 'The service is busy right now. Try again in a moment.';
  if (err.code === 'validation_failed' && err.fields.length) return 'Some values are not accepted; see the marked fields.';
  return err.message;
}

/** The teams document, read once per sign-in (null when the server has no /teams yet). */
let teamsPromise = null;
function loadTeams(fresh = false) {
  if (fresh || !teamsPromise) {
    teamsPromise = api('GET', '/teams').catch((e) => {
      if (e.status !== 404) teamsPromise = null; // try again next time
      return null;
    });
  }
  return teamsPromise;
}

// ---------------------------------------------------------------------------------------------
// Field errors: a 422's fields[].field is mapped to the element with the same data-field (or the
// nearest one above it: "teams[0].members[3]" → "teams[0].members" → "teams[0]"), and the problem
// is shown next to it.

function parentPath(p) {
  const m = p.match(/^(.*)(\[\d+\]|\.[^.[\]]+)$/);
  return m ? m[1] : '';
}
function clearFieldErrors(form) {
  for (const el of $$('.field-error', form)) el.remove();
  for (const el of $$('[aria-invalid]', form)) { el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby'); }
  for (const el of $$('.has-error', form)) el.classList.remove('has-error');
}
function showFieldErrors(form, fields, summary) {
  clearFieldErrors(form);
  const items = [];
  for (const { field, problem } of fields) {
    let target = null;
    for (let p = field; p && !target; p = parentPath(p)) target = form.querySelector(`[data-field="${CSS.escape(p)}"]`);
    const name = target ? (target.dataset.label || target.getAttribute('aria-label') || labelOf(target) || field) : field || 'The document';
    const text = target && field !== target.dataset.field ? `${field}: ${problem}` : problem;
    if (target) {
      const box = target.closest('[data-box]') || target.parentElement;
      const id = nextId('err');
      box.classList.add('has-error');
      box.append(h('p', { class: 'field-error', id }, text));
      const input = target.matches('input,select,textarea') ? target : $('input,select,textarea', target);
      if (input) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', id); }
    }
    items.push(h('li', {}, target ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); (target.matches('input,select,textarea,button') ? target : $('input,select,textarea,button', target) || target).focus(); } }, name) : name, `: ${problem}`));
  }
  if (summary) show(summary, notice('error', h('strong', {}, 'Not saved: please correct these values.'), h('ul', {}, items)));
  const first = $('[aria-invalid="true"]', form);
  if (first && !summary) first.focus();
}
function labelOf(el) {
  const input = el.matches('input,select,textarea') ? el : null;
  const lab = input && input.id && $(`label[for="${CSS.escape(input.id)}"]`);
  return lab ? lab.textContent.trim() : (el.matches('fieldset') ? ($('legend', el) || {}).textContent : '');
}

/** A labelled form control in a box that also holds its error: field('Stalling time', input, 'hint'). */
function field(text, control, hint) {
  const id = control.id || (control.id = nextId('f'));
  return h('div', { class: 'field', 'data-box': true },
    h('label', { for: id }, text),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    control);
}

// ---------------------------------------------------------------------------------------------
// Live updates: the one place that knows how changes are found. It follows the changes feed
// (GET /inbox/changes?cursor=<next_cursor>: the handoffs changed since, oldest change first; the
// cursor trails the present by a few seconds, so a handoff can come twice and the highest version
// wins) and, on a server without it (404), re-reads the active Inbox instead. Pages subscribe with live.listen(fn(changedSummaries)).

const live = {
  useFeed: true, // set to false to always poll the Inbox
  cursor: null,
  known: null, // handoff_id → {state, version} of what was seen
  listeners: new Set(),
  timer: null,
  busy: false,

  start() {
    if (this.timer) return;
    this.cursor = null; this.known = null;
    this.timer = setInterval(() => this.tick(), LIVE_INTERVAL_MS);
    this.tick();
  },
  stop() { clearInterval(this.timer); this.timer = null; this.listeners.clear(); },
  listen(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); },

  async changes() {
    if (this.useFeed) {
      try {
        const items = [];
        // A burst of changes comes in pages: follow them at once.
        for (let pages = 0; pages < 5; pages++) {
          const r = await api('GET', '/inbox/changes', { query: { cursor: this.cursor, limit: 100 } });
          this.cursor = r.next_cursor;
          items.push(...(r.items || []));
          if (!r.more) break;
        }
        // The feed repeats what changed in its last few seconds: keep what is new to this page.
        return items.filter((x) => !this.known || (this.known.get(x.handoff_id) || {}).version !== x.version);
      } catch (e) {
        if (e.status !== 404) throw e;
        this.useFeed = false; // no feed on this server: poll
      }
    }
    const r = await api('GET', '/inbox', { query: { status: 'active', limit: 100 } });
    const seen = new Set(r.items.map((x) => x.handoff_id));
    const changed = r.items.filter((x) => !this.known || (this.known.get(x.handoff_id) || {}).version !== x.version);
    if (this.known) for (const [id, k] of this.known) if (!seen.has(id) && k.active) changed.push({ handoff_id: id, gone: true });
    return changed;
  },

  async tick() {
    if (this.busy || !session.get()) return;
    this.busy = true;
    try {
      const changed = await this.changes();
      const first = !this.known;
      this.known = this.known || new Map();
      for (const x of changed) {
        const before = this.known.get(x.handoff_id);
        const queued = x.state === 'waiting' || x.state === 'ringing';
        if (!first && queued && !(before && before.queued)) newHandoffAlert(x);
        this.known.set(x.handoff_id, { state: x.state, version: x.version, queued, active: !x.gone && ['waiting', 'ringing', 'assigned'].includes(x.state) });
      }
      for (const fn of this.listeners) fn(changed, { polling: !this.useFeed });
    } catch (e) {
      for (const fn of this.listeners) fn(null, { error: e });
    } finally {
      this.busy = false;
    }
  },
};

/** A new handoff is waiting: a banner (role=alert) and, when allowed, a browser notification. */
function newHandoffAlert(x) {
  const who = (x.customer && (x.customer.name || x.customer.email)) || x.conversation_id;
  const text = `${label(x.reason)} · ${who} · ${x.channel}${x.priority && x.priority !== 'normal' ? ` · ${x.priority} priority` : ''}`;
  const box = $('#alerts');
  const el = h('div', { class: 'alert', role: 'alert', 'data-handoff': x.handoff_id },
    h('span', { class: 'alert-dot', 'aria-hidden': 'true' }),
    h('span', {}, h('strong', {}, x.state === 'ringing' ? 'A call is ringing: ' : 'New handoff waiting: '),
      h('a', { href: `#/handoffs/${encodeURIComponent(x.handoff_id)}` }, text)),
    h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': 'Dismiss this alert', onclick: () => el.remove() }, 'Dismiss'));
  for (const old of $$(`[data-handoff="${CSS.escape(x.handoff_id)}"]`, box)) old.remove();
  box.prepend(el);
  while (box.children.length > 3) box.lastElementChild.remove();
  if ('Notification' in window && Notification.permission === 'granted') {
    try {
      const n = new Notification(x.state === 'ringing' ? 'A call is ringing' : 'New handoff waiting', { body: text, tag: x.handoff_id });
      n.onclick = () => { window.focus(); location.hash = `#/handoffs/${encodeURIComponent(x.handoff_id)}`; };
    } catch { /* some browsers allow notifications only from a service worker */ }
  }
}

function notificationButton() {
  if (!('Notification' in window) || Notification.permission !== 'default') return null;
  const btn = h('button', {
    type: 'button', class: 'btn btn-quiet',
    onclick: async () => { await Notification.requestPermission(); btn.replaceWith(h('span', { class: 'muted small' }, Notification.permission === 'granted' ? 'Desktop notifications on' : 'Desktop notifications blocked')); },
  }, 'Enable desktop notifications');
  return btn;
}

// ---------------------------------------------------------------------------------------------
// Pages. Each takes its container and route parameters and may answer a cleanup function.

function pageHead(title, ...extra) {
  document.title = `${title} · Human Handoff`;
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title), ...extra);
}

// ---- Sign-in

function signInPage(view) {
  const s = session.get();
  const reason = signOutReason; signOutReason = '';
  document.title = 'Sign in · Human Handoff';
  const msg = h('div', { class: 'msg' });
  if (reason) show(msg, notice('warn', reason));
  let form;
  if (OIDC) {
    form = h('div', {},
      h('p', {}, 'Sign in with your company account.'),
      h('button', {
        type: 'button', class: 'btn btn-primary btn-block',
        onclick: () => oidcStart(afterSignIn).catch((e) => show(msg, notice('error', explain(e)))),
      }, 'Sign in'));
  } else {
    const ws = h('input', { name: 'workspace_id', 'data-field': 'workspace_id', value: (s && s.workspace_id) || 'ws_demo', autocomplete: 'organization' });
    const user = h('input', { name: 'user_id', 'data-field': 'user_id', value: '', autocomplete: 'username', spellcheck: 'false' });
    const roles = h('fieldset', { class: 'field choice', 'data-box': true, 'data-field': 'role' },
      h('legend', {}, 'Role'),
      h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'role', value: 'agent', checked: true }),
        h('span', {}, h('strong', {}, 'Agent'), h('span', { class: 'muted' }, ' works the Inbox'))),
      h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'role', value: 'admin' }),
        h('span', {}, h('strong', {}, 'Admin'), h('span', { class: 'muted' }, ' also configures settings, teams and sees metrics'))));
    form = h('form', {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const btn = $('button[type=submit]', form);
        if (!user.value.trim()) { show(msg, notice('error', 'Enter a user id.')); user.focus(); return; }
        btn.disabled = true;
        try {
          const res = await fetch(`${API_BASE}/local/sign-in`, {
            method: 'POST', headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ workspace_id: ws.value, user_id: user.value, role: $('input[name=role]:checked', form).value }),
          });
          const data = await res.json().catch(() => null);
          if (!res.ok) {
            const err = new ApiError(res.status, data);
            if (err.fields.length) showFieldErrors(form, err.fields); else clearFieldErrors(form);
            show(msg, notice('error', res.status === 404 ? 'This server has no local sign-in.' : explain(err)));
            return;
          }
          session.set({ token: data.token, workspace_id: data.workspace_id, user_id: data.user_id, role: data.role, expires_at: Date.now() + data.expires_in * 1000 });
          location.hash = afterSignIn;
          afterSignIn = '#/inbox';
        } catch {
          show(msg, notice('error', 'Cannot reach the server. Check the connection and try again.'));
        } finally {
          btn.disabled = false;
        }
      },
    },
    field('Workspace', ws),
    field('User id', user, 'Any id without spaces, e.g. alice'),
    roles,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in'));
  }
  view.append(h('div', { class: 'signin' },
    h('div', { class: 'card signin-card' },
      h('div', { class: 'signin-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'HH'), ' Human Handoff'),
      h('h1', { tabindex: '-1' }, 'Sign in to the agent workspace'),
      OIDC ? null : h('p', { class: 'muted' }, 'Local stack: pick a user id and a role; the stack issues the token.'),
      msg, form)));
  (OIDC ? $('button', view) : $('input[name=user_id]', view)).focus();
}

// ---- Inbox

function inboxPage(view, params) {
  const me = session.get();
  const f = {
    status: params.get('status') || 'active', assignee: params.get('assignee') || '', channel: params.get('channel') || '',
    reason: params.get('reason') || '', team: params.get('team') || '',
  };
  const teamSel = h('select', { id: 'flt-team', 'data-field': 'team' }, options([['', 'Any team'], ['mine', 'My teams']], f.team));
  const controls = [
    field('Status', h('select', { id: 'flt-status', 'data-field': 'status' }, options([['active', 'Active'], ...STATES], f.status))),
    field('Assignee', h('select', { id: 'flt-assignee', 'data-field': 'assignee' }, options([['', 'Anyone'], ['me', 'Me']], f.assignee))),
    field('Channel', h('select', { id: 'flt-channel', 'data-field': 'channel' }, options(CHANNELS, f.channel, { blank: 'Any channel' }))),
    field('Reason', h('select', { id: 'flt-reason', 'data-field': 'reason' }, options(REASONS, f.reason, { blank: 'Any reason' }))),
    field('Team', teamSel),
  ];
  const form = h('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => e.preventDefault() }, controls);
  const msg = h('div', { class: 'msg' });
  const list = h('div', { class: 'list', 'aria-live': 'off' });
  const status = h('span', { class: 'live-status muted small' }, 'Connecting…');
  const more = h('div', { class: 'more' });
  view.append(pageHead('Inbox', h('div', { class: 'head-tools' }, status, notificationButton())), form, msg, list, more);

  loadTeams().then((doc) => {
    if (!doc) { teamSel.title = 'Teams are not available on this server yet'; return; }
    for (const t of doc.teams || []) teamSel.append(h('option', { value: t.team_id, selected: t.team_id === f.team }, t.name || t.team_id));
  });

  let pages = 1;
  let lastSig = '';
  let seq = 0;
  async function load() {
    const mine = ++seq;
    const items = [];
    let cursor = null;
    try {
      for (let i = 0; i < pages; i++) {
        const r = await api('GET', '/inbox', { query: { ...f, limit: 100, cursor } });
        items.push(...r.items);
        cursor = r.next_cursor;
        if (!cursor) break;
      }
    } catch (e) {
      if (mine !== seq) return;
      if (e.fields.length) showFieldErrors(form, e.fields); else clearFieldErrors(form);
      const teamProblem = e.fields.some((x) => x.field === 'team');
      show(msg, notice('error', teamProblem ? 'This server cannot filter by team yet. Choose "Any team".' : `The Inbox could not be read: ${explain(e)}`));
      return;
    }
    if (mine !== seq) return;
    clearFieldErrors(form);
    show(msg, null);
    show(more, cursor ? h('button', { type: 'button', class: 'btn', onclick: () => { pages += 1; load(); } }, 'Load more') : null);
    const sig = JSON.stringify(items.map((x) => [x.handoff_id, x.version, x.team_id]));
    if (sig === lastSig) return;
    lastSig = sig;
    renderList(items);
  }

  function renderList(items) {
    const focused = document.activeElement && document.activeElement.closest('[data-row]');
    const focusId = focused && focused.dataset.row;
    if (!items.length) {
      show(list, h('div', { class: 'empty card' }, h('p', {}, 'No handoffs match these filters.'),
        h('p', { class: 'muted small' }, 'New handoffs appear here as soon as the AI escalates them.')));
      return;
    }
    const rows = items.map((x, i) => {
      const who = (x.customer && (x.customer.name || x.customer.email)) || x.conversation_id;
      const href = `#/handoffs/${encodeURIComponent(x.handoff_id)}`;
      const queued = x.state === 'waiting' || x.state === 'ringing';
      return h('tr', { 'data-row': x.handoff_id, class: x.unread ? 'unread' : '', onclick: (e) => { if (!e.target.closest('a')) location.hash = href; } },
        h('td', { class: 'num', 'data-label': 'Queue' }, String(i + 1)),
        h('td', { class: 'who', 'data-label': 'Customer' },
          x.unread ? h('span', { class: 'unread-dot', title: 'Unread customer messages' }, h('span', { class: 'sr' }, 'Unread messages. ')) : null,
          h('a', { href, 'data-row': x.handoff_id }, who),
          x.summary ? h('div', { class: 'summary-line muted' }, x.summary) : null),
        h('td', { 'data-label': 'Reason' }, label(x.reason)),
        h('td', { 'data-label': 'Priority' }, h('span', { class: `pri pri-${x.priority}` }, label(x.priority))),
        h('td', { 'data-label': 'Channel' }, label(x.channel)),
        h('td', { 'data-label': 'Team' }, x.team_id || h('span', { class: 'muted' }, '—')),
        h('td', { 'data-label': 'Assignee' }, x.assignee ? (x.assignee === me.user_id ? `${x.assignee} (you)` : x.assignee) : h('span', { class: 'muted' }, 'Unassigned')),
        h('td', { 'data-label': 'State' }, h('span', { class: `state state-${x.state}` }, label(x.state))),
        h('td', { class: 'num', 'data-label': queued ? 'Waiting' : 'Age', title: `Escalated ${fmtTime(x.created_at)}` },
          h('span', { 'data-since': x.created_at }, since(x.created_at))));
    });
    show(list, h('div', { class: 'card table-wrap' }, h('table', { class: 'inbox' },
      h('caption', { class: 'sr' }, 'Handoffs in queue order'),
      h('thead', {}, h('tr', {}, ['#', 'Customer', 'Reason', 'Priority', 'Channel', 'Team', 'Assignee', 'State', 'Waiting'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows))));
    if (focusId) { const a = $(`a[data-row="${CSS.escape(focusId)}"]`, list); if (a) a.focus(); }
  }

  form.addEventListener('change', (e) => {
    f[e.target.id.replace('flt-', '')] = e.target.value;
    const q = new URLSearchParams(Object.entries(f).filter(([k, v]) => v && !(k === 'status' && v === 'active')));
    history.replaceState(null, '', `#/inbox${q.toString() ? `?${q}` : ''}`);
    pages = 1; lastSig = '';
    load();
  });

  load();
  return live.listen((changed, info) => {
    if (info.error) { status.textContent = `Live updates paused: ${explain(info.error)}`; status.classList.add('bad'); return; }
    status.classList.remove('bad');
    status.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
    if (info.polling || changed.length) load();
  });
}

// ---- Handoff

function handoffPage(view, params, id) {
  const me = session.get();
  let hd = null; // the handoff as last read
  let timeline = [];
  let actionsSig = '';
  const head = h('div', { class: 'handoff-head' });
  const msg = h('div', { class: 'msg' });
  const actions = h('section', { class: 'actions card', 'aria-label': 'Actions' });
  const transcript = h('ol', { class: 'transcript', 'aria-label': 'Transcript' });
  const timelineList = h('ol', { class: 'timeline' });
  const timelineMore = h('div', {});

  // The reply and note boxes stay in the page across refreshes (what is typed is kept).
  let replyKey = randomId();
  const replyText = h('textarea', { id: 'reply-text', rows: 3, 'data-field': 'text', placeholder: 'Write to the customer…' });
  const replyForm = h('form', { class: 'compose', novalidate: true, onsubmit: (e) => { e.preventDefault(); sendReply(); } },
    field('Reply to the customer', replyText),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Send reply'),
      h('span', { class: 'muted small' }, 'Sent to the customer through the AI runtime.')));
  const replyGone = h('p', { class: 'muted small compose-off' });
  const noteText = h('textarea', { id: 'note-text', rows: 2, 'data-field': 'text', placeholder: 'Visible to teammates only…' });
  const noteForm = h('form', { class: 'compose compose-note', novalidate: true, onsubmit: (e) => { e.preventDefault(); addNote(); } },
    field('Internal note', noteText),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn' }, 'Add note'), h('span', { class: 'muted small' }, 'Never sent to the customer.')));

  view.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/inbox' }, '← Inbox')),
    head, msg, actions,
    h('div', { class: 'cols' },
      h('section', { class: 'card conversation', 'aria-labelledby': 'conv-h' },
        h('h2', { id: 'conv-h' }, 'Conversation'), transcript, replyGone, replyForm, noteForm),
      h('section', { class: 'card', 'aria-labelledby': 'tl-h' }, h('h2', { id: 'tl-h' }, 'Timeline'), timelineList, timelineMore)));

  const path = `/handoffs/${encodeURIComponent(id)}`;

  async function refresh({ force = false } = {}) {
    let next;
    try {
      next = await api('GET', path);
    } catch (e) {
      if (e.status === 404) { show(head, pageHead('Handoff not found')); show(msg, notice('error', 'There is no such handoff in this workspace.')); actions.hidden = true; return; }
      show(msg, notice('error', `The handoff could not be read: ${explain(e)}`));
      return;
    }
    view.dataset.refreshedAt = String(Date.now());
    if (!force && hd && hd.version === next.version) return;
    hd = next;
    timeline = next.timeline || [];
    renderHead();
    renderActions();
    renderTimeline(next.timeline_next);
    await loadTranscript();
  }

  function renderHead() {
    const c = hd.customer || {};
    const who = c.name || c.email || hd.conversation_id;
    const queued = hd.state === 'waiting' || hd.state === 'ringing';
    document.title = `${who} · Human Handoff`;
    const fact = (k, v) => h('div', {}, h('dt', {}, k), h('dd', {}, v));
    show(head, h('div', {},
      h('div', { class: 'page-head' },
        h('h1', { tabindex: '-1' }, who),
        h('span', { class: `state state-${hd.state}`, id: 'handoff-state' }, label(hd.state)),
        h('span', { class: `pri pri-${hd.priority}` }, `${label(hd.priority)} priority`),
        hd.unread ? h('span', { class: 'tag tag-accent' }, 'Unread') : null),
      h('div', { class: 'card summary' },
        h('h2', { class: 'small-h' }, 'AI summary'),
        h('p', { class: 'summary-text' }, hd.summary || h('span', { class: 'muted' }, 'No summary was given.')),
        h('dl', { class: 'facts' },
          fact('Reason', label(hd.reason)), fact('Channel', label(hd.channel)), fact('Priority', label(hd.priority)),
          fact('Customer', [c.name || '—', c.email ? h('div', {}, h('a', { href: `mailto:${c.email}` }, c.email)) : null, c.id ? h('div', { class: 'muted small' }, `id ${c.id}`) : null]),
          fact('Team', hd.team_id || '—'),
          fact('Assignee', hd.assignee ? (hd.assignee === me.user_id ? `${hd.assignee} (you)` : hd.assignee) : 'Unassigned'),
          fact(queued ? 'Waiting' : 'Escalated', queued ? h('span', { 'data-since': hd.created_at }, since(hd.created_at)) : fmtTime(hd.created_at)),
          fact('Conversation', h('code', {}, hd.conversation_id))))));
  }

  function renderActions() {
    const s = hd.state;
    const canReply = s === 'assigned' && (me.role === 'admin' || hd.assignee === me.user_id);
    replyForm.hidden = !canReply;
    replyGone.hidden = canReply;
    replyGone.textContent = s === 'assigned'
      ? `Only ${hd.assignee} (the assignee) or an admin can reply.`
      : ['waiting', 'ringing'].includes(s) ? 'Accept the handoff to reply to the customer.' : `The handoff is ${lc(s)}: replies are closed.`;
    const sig = `${s}|${hd.assignee}`;
    if (sig === actionsSig) return;
    actionsSig = sig;
    const btn = (text, cls, fn) => h('button', { type: 'button', class: `btn ${cls}`, 'data-action': text, onclick: fn }, text);
    const parts = [];
    if (s === 'waiting' || s === 'ringing') parts.push(btn('Accept', 'btn-primary', () => act('accept', 'POST', '/accept')));
    if (s === 'assigned') parts.push(assignControl());
    if (['waiting', 'ringing', 'assigned'].includes(s)) parts.push(transferControl());
    if (s === 'assigned' || s === 'ticketed') parts.push(btn('Resolve', 'btn-primary', () => act('resolve', 'POST', '/resolve')));
    if (['waiting', 'ringing', 'assigned'].includes(s)) parts.push(btn('Return to AI', 'btn-quiet', () => act('return to the AI', 'POST', '/return-to-ai')));
    actions.hidden = false;
    show(actions, parts.length ? h('div', { class: 'action-row' }, parts)
      : h('p', { class: 'muted' }, `This handoff is ${lc(s)}; there is nothing more to do. Notes can still be added.`));
  }

  function assignControl() {
    const input = h('input', { id: 'assign-to', list: 'teammates', 'data-field': 'assignee', placeholder: 'user id', autocomplete: 'off', spellcheck: 'false' });
    const dl = h('datalist', { id: 'teammates' });
    loadTeams().then((doc) => {
      const ids = new Set((doc ? doc.teams : []).flatMap((t) => t.members || []));
      ids.delete(hd && hd.assignee);
      for (const u of [...ids].sort()) dl.append(h('option', { value: u }));
    });
    const form = h('form', {
      class: 'inline-form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        if (!input.value.trim()) { input.focus(); return; }
        act('assign', 'POST', '/assign', { assignee: input.value.trim() }, form);
      },
    }, h('label', { for: 'assign-to' }, 'Assign to'), h('div', { 'data-box': true, class: 'inline-box' }, input), dl,
    h('button', { type: 'submit', class: 'btn' }, 'Assign'));
    return form;
  }

  function transferControl() {
    const sel = h('select', { id: 'transfer-to', 'data-field': 'team_id' }, h('option', { value: '' }, 'Choose a team…'));
    const button = h('button', { type: 'submit', class: 'btn' }, 'Transfer');
    const form = h('form', {
      class: 'inline-form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        if (!sel.value) { sel.focus(); return; }
        act('transfer', 'POST', '/transfer', { team_id: sel.value }, form);
      },
    }, h('label', { for: 'transfer-to' }, 'Transfer to'), h('div', { 'data-box': true, class: 'inline-box' }, sel), button);
    loadTeams().then((doc) => {
      if (!doc) { sel.disabled = true; button.disabled = true; sel.firstChild.textContent = 'No teams yet'; sel.title = 'This server has no teams yet'; return; }
      for (const t of doc.teams || []) if (t.team_id !== (hd && hd.team_id)) sel.append(h('option', { value: t.team_id }, t.name || t.team_id));
    });
    return form;
  }

  async function act(what, method, suffix, body, form) {
    for (const b of $$('button', actions)) b.disabled = true;
    if (form) clearFieldErrors(form);
    try {
      await api(method, `${path}${suffix}`, { body: body || {} });
      actionsSig = '';
      await refresh({ force: true });
      show(msg, notice('ok', {
        accept: 'You accepted this handoff. The customer was told an agent joined.', resolve: 'Resolved.',
        'return to the AI': 'Handed back to the AI.', assign: `Assigned to ${body && body.assignee}.`,
        transfer: `Transferred to team ${body && body.team_id}.`,
      }[what]));
    } catch (e) {
      actionsSig = '';
      if (e.status === 409) {
        await refresh({ force: true });
        const other = hd && hd.assignee && hd.assignee !== me.user_id;
        let text;
        if (what === 'accept' && other) text = `Someone else got there first: ${hd.assignee} accepted this handoff a moment ago. The view now shows its current state.`;
        else if (e.code === 'conflict') text = 'The handoff was changing while you acted. The view is refreshed; try again.';
        else text = `This handoff changed before your ${what} went through: it is now ${lc(hd && hd.state)}${other ? ` (assigned to ${hd.assignee})` : ''}. The view now shows its current state.`;
        show(msg, notice('warn', text));
      } else if (e.status === 404 && (what === 'transfer')) {
        show(msg, notice('error', 'Transfer is not available on this server yet.'));
      } else {
        if (form && e.fields.length) showFieldErrors(form, e.fields);
        show(msg, notice('error', `Could not ${what}: ${explain(e)}`));
      }
    } finally {
      for (const b of $$('button', actions)) b.disabled = false;
      // The button pressed may be gone: keep the keyboard user in a sensible place.
      if (!document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected) {
        const next = what === 'accept' && !replyForm.hidden ? replyText : $('h1', head);
        if (next) next.focus();
      }
    }
  }

  async function loadTranscript() {
    const items = [];
    let cursor = null;
    try {
      for (let i = 0; i < 50; i++) {
        const r = await api('GET', `${path}/messages`, { query: { limit: 100, cursor } });
        items.push(...r.items);
        cursor = r.next_cursor;
        if (!cursor) break;
      }
    } catch (e) {
      show(transcript, h('li', {}, notice('error', `The transcript could not be read: ${explain(e)}`)));
      return;
    }
    const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    if (!items.length) { show(transcript, h('li', { class: 'muted' }, 'No messages yet.')); return; }
    transcript.replaceChildren(...items.map((m) => {
      const agent = m.author.startsWith('agent:') ? m.author.slice(6) : null;
      const who = agent ? (agent === me.user_id ? `${agent} (you)` : agent) : { customer: 'Customer', ai: 'AI agent', system: 'Automatic message' }[m.author] || m.author;
      const kind = m.kind === 'note' ? 'note' : agent ? 'agent' : m.author;
      return h('li', { class: `line line-${kind}`, 'data-kind': m.kind },
        h('div', { class: 'line-meta' },
          h('span', { class: 'line-author' }, who),
          m.kind === 'note' ? h('span', { class: 'tag tag-note' }, 'Internal note') : null,
          h('time', { datetime: m.at, class: 'muted' }, fmtTime(m.at))),
        h('div', { class: 'line-text' }, m.text));
    }));
    if (atBottom || !transcript.dataset.loaded) transcript.scrollTop = transcript.scrollHeight;
    transcript.dataset.loaded = '1';
  }

  function describe(t) {
    switch (t.type) {
      case 'escalated': return `Escalated (${label(t.channel)}, ${lc(t.reason)}): ${lc(t.state)}`;
      case 'transition': {
        const what = { accept: 'Accepted', assign: 'Reassigned', resolve: 'Resolved', return_to_ai: 'Returned to the AI', stall_timer: 'Stall timer', ring_timer: 'Ring timer', end_conversation: 'The customer left', transfer: 'Transferred' }[t.action] || label(t.action);
        const change = t.from === t.to ? ` (still ${lc(t.to)})` : `: ${lc(t.from)} → ${lc(t.to)}`;
        return `${what}${t.assignee ? ` (assignee ${t.assignee})` : ''}${t.team_id ? ` (team ${t.team_id})` : ''}${change}`;
      }
      case 'message_decided': return `${PURPOSES[t.purpose] || label(t.purpose)} for the customer: “${t.text}”`;
      case 'message_sent': return `${PURPOSES[t.purpose] || label(t.purpose)} sent`;
      case 'event_decided': return `Event for the AI runtime: ${t.event_type}`;
      case 'event_sent': return `Event sent: ${t.event_type}`;
      case 'timer_set': return `${label(t.kind)} timer set for ${fmtTime(t.due_at)}`;
      case 'timer_scheduled': return `${label(t.kind)} timer scheduled`;
      case 'message_received': return 'Customer message received';
      case 'note_added': return 'Internal note added';
      default: {
        const rest = Object.entries(t).filter(([k]) => !['at', 'actor', 'type'].includes(k)).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
        return `${label(t.type)}${rest.length ? `: ${rest.join(', ')}` : ''}`;
      }
    }
  }
  function renderTimeline(nextPage) {
    timelineList.replaceChildren(...timeline.map((t) => h('li', { class: `tl tl-${t.type}` },
      h('time', { datetime: t.at }, fmtTime(t.at)),
      h('span', { class: 'tl-actor' }, t.actor.startsWith('agent:') ? t.actor.slice(6) : label(t.actor)),
      h('span', { class: 'tl-what' }, describe(t)))));
    show(timelineMore, nextPage != null ? h('button', {
      type: 'button', class: 'btn btn-small',
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          const r = await api('GET', path, { query: { timeline_after: nextPage } });
          timeline.push(...(r.timeline || []));
          renderTimeline(r.timeline_next);
        } catch (err) { show(timelineMore, notice('error', explain(err))); }
      },
    }, 'Show more') : null);
  }

  async function sendReply() {
    const text = replyText.value;
    if (!text.trim()) { replyText.focus(); return; }
    const b = $('button[type=submit]', replyForm);
    b.disabled = true;
    clearFieldErrors(replyForm);
    try {
      await api('POST', `${path}/messages`, { body: { text, client_message_id: replyKey } });
      replyText.value = '';
      replyKey = randomId(); // the same key on a retry after a failure: the reply is sent once
      show(msg, notice('ok', 'Reply sent.'));
      await refresh({ force: true });
    } catch (e) {
      if (e.fields.length) showFieldErrors(replyForm, e.fields);
      if (e.status === 409) await refresh({ force: true });
      show(msg, notice('error', e.status === 409 ? `The reply was not sent: the handoff is now ${lc(hd.state)}.` : `The reply was not sent: ${explain(e)}`));
    } finally {
      b.disabled = false;
    }
  }

  async function addNote() {
    const text = noteText.value;
    if (!text.trim()) { noteText.focus(); return; }
    const b = $('button[type=submit]', noteForm);
    b.disabled = true;
    clearFieldErrors(noteForm);
    try {
      await api('POST', `${path}/notes`, { body: { text } });
      noteText.value = '';
      show(msg, notice('ok', 'Note added.'));
      await refresh({ force: true });
    } catch (e) {
      if (e.fields.length) showFieldErrors(noteForm, e.fields);
      show(msg, notice('error', `The note was not added: ${explain(e)}`));
    } finally {
      b.disabled = false;
    }
  }

  for (const a of $$(`#alerts [data-handoff="${CSS.escape(id)}"]`)) a.remove();
  refresh().then(() => { const t = $('h1', head); if (t) t.focus(); });
  return live.listen((changed, info) => {
    if (info.error) return;
    if (info.polling || changed.some((x) => x.handoff_id === id)) refresh();
  });
}

// ---- Settings (admin)

function settingsPage(view) {
  const msg = h('div', { class: 'msg' });
  const summary = h('div', { class: 'msg' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  view.append(h('div', { class: 'narrow' }, pageHead('Settings'), msg, body));
  let doc = null;
  let bhModel = null;

  const I = {}; // the controls, by field name
  const text = (name, rows = 3) => (I[name] = h('textarea', { id: `s-${name}`, rows, 'data-field': name }));
  const number = (name, placeholder) => (I[name] = h('input', { id: `s-${name}`, type: 'number', step: 'any', inputmode: 'numeric', class: 'num-input', 'data-field': name, placeholder }));
  const select = (name, values) => (I[name] = h('select', { id: `s-${name}`, 'data-field': name }, options(values)));
  const bhBox = h('div', {});
  const meta = h('p', { class: 'muted small' });

  const form = h('form', { class: 'settings', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
    meta, summary,
    h('fieldset', { class: 'card' }, h('legend', {}, 'Human Handoff'),
      h('div', { class: 'field toggle', 'data-box': true },
        I.enabled = h('input', { type: 'checkbox', id: 's-enabled', 'data-field': 'enabled', role: 'switch' }),
        h('label', { for: 's-enabled' }, h('strong', {}, 'Human Handoff is on'), h('span', { class: 'muted' }, ' — escalations reach the Inbox (off: the AI keeps every conversation)'))),
      field('Routing', select('routing', [['human', 'People (the Inbox)'], ['ai', 'The AI (record only)']]), 'Who receives escalated conversations.')),
    h('fieldset', { class: 'card' }, h('legend', {}, 'Messages and timing'),
      field('Confirmation message', text('confirmation_message'), 'Sent to the customer at once when a conversation is handed off.'),
      field('Stalling time (seconds)', number('stalling_time_seconds'), 'How long to wait for an agent before telling the customer nobody is available.'),
      field('Stall message', text('stall_message'))),
    h('fieldset', { class: 'card' }, h('legend', {}, 'Voice calls'),
      h('div', { class: 'grid2' },
        field('Ring timeout (seconds)', number('voice_ring_timeout_seconds'), 'How long a call rings for an agent.'),
        field('When nobody answers', select('voice_timeout_action', [['return_to_ai', 'Return the caller to the AI'], ['end_call', 'End the call']])))),
    h('fieldset', { class: 'card' }, h('legend', {}, 'Waiting policy'),
      h('div', { class: 'grid2' },
        field('Repeat the stall message every (seconds)', number('stall_repeat_seconds', 'no repeats'), 'Leave empty to send it once.'),
        field('Repeat at most (times)', number('stall_repeat_max'))),
      field('Then, if still waiting', select('stall_fallback', [['keep_waiting', 'Keep waiting'], ['return_to_ai', 'Return to the AI'], ['offer_ticket', 'Offer a ticket (answer later)']])),
      field('Fallback message', text('stall_fallback_message', 2), 'Sent with the fallback.')),
    h('fieldset', { class: 'card', 'data-field': 'business_hours', 'data-box': true, 'data-label': 'Business hours' }, h('legend', {}, 'Business hours'), bhBox),
    h('div', { class: 'savebar' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save settings')));

  function fill(d) {
    doc = d;
    I.enabled.checked = !!d.enabled;
    for (const k of ['routing', 'confirmation_message', 'stalling_time_seconds', 'stall_message', 'voice_ring_timeout_seconds',
      'voice_timeout_action', 'stall_repeat_seconds', 'stall_repeat_max', 'stall_fallback', 'stall_fallback_message']) {
      I[k].value = d[k] == null ? '' : d[k];
    }
    meta.textContent = d.version ? `Version ${d.version}, saved ${fmtTime(d.updated_at)} by ${d.updated_by}.` : 'Never saved: these are the defaults.';
    bhModel = 'business_hours' in d ? d.business_hours : undefined;
    renderBH();
  }

  // Business hours: null = always open. Edited as a model, re-rendered on structural changes.
  let bhSaved = null;
  function renderBH() {
    if (bhModel === undefined) {
      show(bhBox, h('p', { class: 'muted' }, 'This server does not offer business hours yet: the settings it sends have no business_hours field.'));
      return;
    }
    const on = h('input', { type: 'checkbox', id: 'bh-on', checked: bhModel != null });
    on.addEventListener('change', () => {
      if (on.checked) bhModel = bhSaved || defaultHours(); else { bhSaved = readBH(); bhModel = null; }
      renderBH(); $('#bh-on').focus();
    });
    const parts = [h('div', { class: 'field toggle', 'data-box': true }, on,
      h('label', { for: 'bh-on' }, h('strong', {}, 'Limit to business hours'), h('span', { class: 'muted' }, ' (off: always open)')))];
    if (bhModel) {
      const m = bhModel;
      const tz = h('input', { id: 'bh-tz', 'data-field': 'business_hours.time_zone', list: 'tz-list', value: m.time_zone || '', spellcheck: 'false' });
      const tzList = h('datalist', { id: 'tz-list' }, (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : []).map((z) => h('option', { value: z })));
      const days = DAYS.map(([key, name]) => {
        const ranges = (m.weekly && m.weekly[key]) || [];
        return h('div', { class: 'day', 'data-field': `business_hours.weekly.${key}`, 'data-day': key, 'data-box': true, 'data-label': name },
          h('div', { class: 'day-name', id: `day-${key}` }, name),
          h('div', { class: 'ranges' },
            ranges.length ? null : h('span', { class: 'muted small' }, 'Closed'),
            ranges.map((r, i) => h('div', { class: 'range', 'data-field': `business_hours.weekly.${key}[${i}]`, 'data-box': true, 'data-label': `${name} hours ${i + 1}` },
              h('input', { class: 'time', 'aria-label': `${name} opens (range ${i + 1})`, 'data-field': `business_hours.weekly.${key}[${i}][0]`, value: r[0] ?? '', placeholder: '09:00' }),
              h('span', { 'aria-hidden': 'true' }, '–'),
              h('input', { class: 'time', 'aria-label': `${name} closes (range ${i + 1})`, 'data-field': `business_hours.weekly.${key}[${i}][1]`, value: r[1] ?? '', placeholder: '17:00' }),
              h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Remove ${name} range ${i + 1}`, onclick: () => edit((b) => b.weekly[key].splice(i, 1)) }, 'Remove'))),
            h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Add hours on ${name}`, onclick: () => edit((b) => (b.weekly[key] = b.weekly[key] || []).push(['09:00', '17:00'])) }, '+ Add hours')));
      });
      const holidays = (m.holidays || []).map((d, i) => h('div', { class: 'range', 'data-field': `business_hours.holidays[${i}]`, 'data-box': true, 'data-label': `Holiday ${i + 1}` },
        h('input', { type: 'date', 'aria-label': `Holiday ${i + 1}`, value: d }),
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Remove holiday ${i + 1}`, onclick: () => edit((b) => b.holidays.splice(i, 1)) }, 'Remove')));
      parts.push(
        field('Time zone', tz, 'An IANA name, e.g. Europe/Paris. Daylight saving follows it.'), tzList,
        h('div', { class: 'field', 'data-box': true }, h('div', { class: 'label' }, 'Opening hours (24-hour HH:MM; 24:00 allowed as an end)'), h('div', { class: 'week' }, days)),
        h('div', { class: 'field', 'data-field': 'business_hours.holidays', 'data-box': true, 'data-label': 'Holidays' },
          h('div', { class: 'label' }, 'Holidays (closed all day)'),
          holidays.length ? h('div', { class: 'holidays' }, holidays) : h('p', { class: 'muted small' }, 'None.'),
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => edit((b) => (b.holidays = b.holidays || []).push(isoDate(new Date()))) }, '+ Add a holiday')),
        field('After-hours message', h('textarea', { id: 'bh-msg', rows: 2, 'data-field': 'business_hours.after_hours_message', value: m.after_hours_message || '' }), 'Sent instead of the confirmation message outside business hours.'),
        field('Chats outside business hours', h('select', { id: 'bh-chat', 'data-field': 'business_hours.after_hours_chat' },
          options([['queue', 'Queue them (the stall timer starts at the next opening)'], ['return_to_ai', 'Return them to the AI']], m.after_hours_chat))));
    }
    show(bhBox, h('div', {}, parts));
  }
  function defaultHours() {
    const weekly = Object.fromEntries(DAYS.map(([k]) => [k, ['sat', 'sun'].includes(k) ? [] : [['09:00', '17:00']]]));
    return {
      time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', weekly, holidays: [],
      after_hours_message: "Our team is away right now. We'll reply here as soon as we're back.", after_hours_chat: 'queue',
    };
  }
  function readBH() {
    if (bhModel == null) return bhModel;
    const weekly = {};
    for (const [key] of DAYS) {
      weekly[key] = $$(`[data-day="${key}"] .range`, bhBox).map((r) => $$('input', r).map((i) => i.value.trim()));
    }
    return {
      ...bhModel,
      time_zone: $('#bh-tz', bhBox).value.trim(),
      weekly,
      holidays: $$('[data-field^="business_hours.holidays["] input', bhBox).map((i) => i.value),
      after_hours_message: $('#bh-msg', bhBox).value,
      after_hours_chat: $('#bh-chat', bhBox).value,
    };
  }
  function edit(change) { bhModel = readBH(); change(bhModel); renderBH(); }

  /** An integer field as typed: a number, null when empty, else the text (the API says what is wrong). */
  function num(el) {
    const raw = el.value.trim();
    if (raw === '') return el.validity && el.validity.badInput ? 'not a number' : null;
    return Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }

  function collect() {
    const out = { ...doc };
    out.enabled = I.enabled.checked;
    for (const k of ['routing', 'confirmation_message', 'stall_message', 'voice_timeout_action', 'stall_fallback', 'stall_fallback_message']) out[k] = I[k].value;
    for (const k of ['stalling_time_seconds', 'voice_ring_timeout_seconds', 'stall_repeat_seconds', 'stall_repeat_max']) out[k] = num(I[k]);
    if (bhModel !== undefined) out.business_hours = readBH();
    return out;
  }

  async function save() {
    const b = $('button[type=submit]', form);
    b.disabled = true;
    show(msg, null); show(summary, null);
    clearFieldErrors(form);
    const mine = collect();
    try {
      const saved = await api('PUT', '/handoff-settings', { body: mine, headers: { 'If-Match': `"${doc.version}"` } });
      fill(saved);
      show(msg, notice('ok', `Saved. The settings are now at version ${saved.version}; new escalations use them.`));
    } catch (e) {
      if (e.status === 409 && e.current) {
        const lost = Object.keys(mine).filter((k) => !['version', 'updated_at', 'updated_by', 'workspace_id'].includes(k) && JSON.stringify(mine[k]) !== JSON.stringify(e.current[k]));
        fill(e.current);
        show(msg, notice('warn', h('strong', {}, 'Not saved: someone else saved newer settings. '),
          `${e.current.updated_by || 'Someone'} saved version ${e.current.version} at ${fmtTime(e.current.updated_at)}, after you opened this page. The form now shows their version. `,
          lost.length ? ['Your changes to ', h('em', {}, lost.map(label).join(', ')), ' were not applied: make them again and save.'] : 'Your changes were the same as theirs.'));
      } else if (e.fields.length) {
        showFieldErrors(form, e.fields, summary);
        show(msg, null);
      } else {
        show(msg, notice('error', `Not saved: ${explain(e)}`));
      }
      msg.scrollIntoView({ block: 'nearest' });
    } finally {
      b.disabled = false;
    }
  }

  api('GET', '/handoff-settings').then((d) => { fill(d); show(body, form); })
    .catch((e) => show(body, notice('error', `The settings could not be read: ${explain(e)}`)));
}

// ---- Teams (admin)

function teamsPage(view) {
  view.append(pageHead('Teams', h('p', { class: 'muted' }, 'Who works which conversations. The first rule whose every listed condition matches picks the team; otherwise the default team.')));
  const msg = h('div', { class: 'msg' });
  const summary = h('div', { class: 'msg' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  view.append(msg, body);
  let doc = null;
  let model = null;

  const form = h('form', { novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } });

  function read() {
    const teams = $$('.team', form).map((el) => ({
      ...(model.teams[Number(el.dataset.i)] || {}),
      team_id: $('.t-id', el).value.trim(),
      name: $('.t-name', el).value,
      members: $('.t-members', el).value.split(/\s+/).filter(Boolean),
    }));
    const rules = $$('.rule', form).map((el) => ({
      ...(model.rules[Number(el.dataset.i)] || {}),
      when: Object.fromEntries(['reason', 'channel', 'priority'].map((k) => [k, $$(`input[data-k="${k}"]:checked`, el).map((c) => c.value)])),
      team_id: $('.r-team', el).value,
    }));
    const def = $('#default-team', form).value;
    return { teams, rules, default_team_id: def || null };
  }
  function edit(change) { model = read(); change(model); render(); }

  function teamOptions(current) {
    const ids = model.teams.map((t) => t.team_id).filter(Boolean);
    if (current && !ids.includes(current)) ids.push(current);
    return ids.map((t) => h('option', { value: t, selected: t === current }, t));
  }

  function render() {
    const focusKey = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.key;
    const teams = model.teams.map((t, i) => h('div', { class: 'card team', 'data-i': i, 'data-field': `teams[${i}]`, 'data-box': true, 'data-label': `Team ${i + 1}` },
      h('div', { class: 'grid2' },
        field('Team id', h('input', { class: 't-id', 'data-field': `teams[${i}].team_id`, value: t.team_id || '', spellcheck: 'false', onchange: refreshTeamOptions })),
        field('Name', h('input', { class: 't-name', 'data-field': `teams[${i}].name`, value: t.name || '' }))),
      field('Members', h('textarea', { class: 't-members', rows: 2, 'data-field': `teams[${i}].members`, value: (t.members || []).join('\n'), spellcheck: 'false' }), 'User ids, one per line (or separated by spaces).'),
      h('div', { class: 'row' }, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-key': `rm-team-${i}`, onclick: () => edit((m) => m.teams.splice(i, 1)) }, `Remove team ${t.team_id || i + 1}`))));
    const rules = model.rules.map((r, i) => {
      const w = r.when || {};
      const group = (k, values) => h('fieldset', { class: 'checks', 'data-field': `rules[${i}].when.${k}`, 'data-box': true, 'data-label': `Rule ${i + 1} ${k}` },
        h('legend', {}, `${label(k)} is`),
        values.map((v) => h('label', { class: 'check' }, h('input', { type: 'checkbox', 'data-k': k, value: v, checked: (w[k] || []).includes(v) }), ` ${label(v)}`)),
        h('p', { class: 'hint' }, 'None checked: any.'));
      return h('li', { class: 'card rule', 'data-i': i, 'data-field': `rules[${i}]`, 'data-box': true, 'data-label': `Rule ${i + 1}` },
        h('div', { class: 'rule-head' }, h('h3', {}, `Rule ${i + 1}`),
          h('div', { class: 'row' },
            h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-key': `up-${i}`, disabled: i === 0, 'aria-label': `Move rule ${i + 1} up`, onclick: () => edit((m) => m.rules.splice(i - 1, 0, ...m.rules.splice(i, 1))) }, '↑ Up'),
            h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-key': `down-${i}`, disabled: i === model.rules.length - 1, 'aria-label': `Move rule ${i + 1} down`, onclick: () => edit((m) => m.rules.splice(i + 1, 0, ...m.rules.splice(i, 1))) }, '↓ Down'),
            h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Remove rule ${i + 1}`, onclick: () => edit((m) => m.rules.splice(i, 1)) }, 'Remove'))),
        h('div', { class: 'rule-when' }, group('reason', REASONS), group('channel', CHANNELS), group('priority', PRIORITIES)),
        field('Then route to team', h('select', { class: 'r-team', 'data-field': `rules[${i}].team_id` }, h('option', { value: '' }, 'Choose a team…'), teamOptions(r.team_id))));
    });
    form.replaceChildren(
      h('p', { class: 'muted small' }, doc.version ? `Version ${doc.version}, saved ${fmtTime(doc.updated_at)} by ${doc.updated_by}.` : 'Never saved.'),
      summary,
      h('section', { 'aria-labelledby': 'teams-h', 'data-field': 'teams', 'data-box': true, 'data-label': 'Teams' },
        h('div', { class: 'section-head' }, h('h2', { id: 'teams-h' }, 'Teams'),
          h('button', { type: 'button', class: 'btn btn-small', 'data-key': 'add-team', onclick: () => edit((m) => m.teams.push({ team_id: '', name: '', members: [] })) }, '+ Add a team')),
        teams.length ? h('div', { class: 'teams' }, teams) : h('p', { class: 'muted card' }, 'No teams yet.')),
      h('section', { 'aria-labelledby': 'rules-h', 'data-field': 'rules', 'data-box': true, 'data-label': 'Rules' },
        h('div', { class: 'section-head' }, h('h2', { id: 'rules-h' }, 'Routing rules'),
          h('button', { type: 'button', class: 'btn btn-small', 'data-key': 'add-rule', onclick: () => edit((m) => m.rules.push({ when: { reason: [], channel: [], priority: [] }, team_id: '' })) }, '+ Add a rule')),
        rules.length ? h('ol', { class: 'rules' }, rules) : h('p', { class: 'muted card' }, 'No rules: every escalation goes to the default team.')),
      h('section', { class: 'card default-team' },
        field('Default team', h('select', { id: 'default-team', 'data-field': 'default_team_id' }, h('option', { value: '' }, 'None (no team)'), teamOptions(model.default_team_id)),
          'For escalations no rule matches.')),
      h('div', { class: 'savebar' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save teams')));
    const again = focusKey && $(`[data-key="${focusKey}"]`, form);
    if (again) again.focus();
  }

  /** A team id was edited: the rule and default-team pickers offer the new ids (keeping their choice). */
  function refreshTeamOptions() {
    model = read();
    for (const sel of $$('select.r-team, #default-team', form)) {
      const keep = sel.value;
      sel.replaceChildren(sel.options[0], ...teamOptions(keep));
      sel.value = keep;
    }
  }

  function fill(d) {
    doc = d;
    model = { teams: (d.teams || []).map((t) => ({ ...t })), rules: (d.rules || []).map((r) => ({ ...r })), default_team_id: d.default_team_id ?? null };
    render();
  }

  async function save() {
    const b = $('button[type=submit]', form);
    b.disabled = true;
    show(msg, null); show(summary, null);
    clearFieldErrors(form);
    model = read();
    const mine = { ...doc, ...model };
    try {
      const saved = await api('PUT', '/teams', { body: mine, headers: { 'If-Match': `"${doc.version}"` } });
      fill(saved);
      loadTeams(true);
      show(msg, notice('ok', `Saved. Teams are now at version ${saved.version}.`));
    } catch (e) {
      if (e.status === 409 && e.current) {
        fill(e.current);
        show(msg, notice('warn', h('strong', {}, 'Not saved: someone else saved newer teams. '),
          `${e.current.updated_by || 'Someone'} saved version ${e.current.version} at ${fmtTime(e.current.updated_at)}. The page now shows their version; make your changes again and save.`));
      } else if (e.fields.length) {
        showFieldErrors(form, e.fields, summary);
      } else {
        show(msg, notice('error', `Not saved: ${explain(e)}`));
      }
      msg.scrollIntoView({ block: 'nearest' });
    } finally {
      b.disabled = false;
    }
  }

  api('GET', '/teams').then((d) => { fill(d); show(body, form); }).catch((e) => {
    show(body, e.status === 404
      ? notice('warn', 'Teams are not available on this server yet (it has no /teams route). Update the stack to manage teams.')
      : notice('error', `The teams could not be read: ${explain(e)}`));
  });
}

// ---- Metrics (admin)

function metricsPage(view, params) {
  view.append(pageHead('Metrics'));
  const today = new Date();
  const from = h('input', { type: 'date', id: 'm-from', 'data-field': 'from', value: params.get('from') || isoDate(new Date(today.getTime() - 6 * 864e5)) });
  const to = h('input', { type: 'date', id: 'm-to', 'data-field': 'to', value: params.get('to') || isoDate(new Date(today.getTime() + 864e5)) });
  const group = h('select', { id: 'm-group', 'data-field': 'group_by' }, options([['reason', 'Reason'], ['channel', 'Channel'], ['team', 'Team']], params.get('group_by') || 'reason'));
  const msg = h('div', { class: 'msg' });
  const out = h('div', {});
  const form = h('form', { class: 'filters card', novalidate: true, onsubmit: (e) => { e.preventDefault(); run(); } },
    field('From (included)', from), field('To (excluded)', to), field('Group by', group),
    h('div', { class: 'field' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show')));
  view.append(form, msg, out);

  async function run() {
    clearFieldErrors(form);
    show(msg, null);
    const query = { from: from.value, to: to.value, group_by: group.value };
    history.replaceState(null, '', `#/metrics?${new URLSearchParams(query)}`);
    show(out, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await api('GET', '/metrics', { query });
      show(out, table(r));
    } catch (e) {
      show(out, null);
      if (e.status === 404) show(msg, notice('warn', 'Metrics are not available on this server yet (it has no /metrics route).'));
      else {
        if (e.fields.length) showFieldErrors(form, e.fields);
        show(msg, notice('error', `The metrics could not be read: ${explain(e)}`));
      }
    }
  }

  /** One column per group, one row per measure (a few groups, many measures: it reads down). */
  function table(r) {
    const groups = r.groups || [];
    if (!groups.length) return h('div', { class: 'empty card' }, h('p', {}, `No handoffs were created between ${r.from} and ${r.to}.`));
    const finals = [...new Set(groups.flatMap((g) => Object.keys(g.final_states || {})))];
    const n = (x) => (x == null ? '—' : String(x));
    const pct = (x) => (x == null ? '—' : `${(x * 100).toFixed(1)}%`);
    const key = (k) => (k == null ? (r.group_by === 'team' ? 'No team' : 'None') : r.group_by === 'team' ? k : label(k));
    const sections = [
      ['Escalation outcomes', ['queued', 'ringing', 'routed_to_ai', 'after_hours', 'disabled', 'already_active']
        .map((k) => [label(k), (g) => n((g.escalations || {})[k] ?? 0)])],
      ['Final states', finals.map((k) => [label(k), (g) => n((g.final_states || {})[k] ?? 0)])],
      ['Time to accept (escalation → first accept)', [
        ['Accepted', (g) => n((g.time_to_accept_seconds || {}).count)],
        ['Median (p50)', (g) => fmtDuration((g.time_to_accept_seconds || {}).p50)],
        ['p90', (g) => fmtDuration((g.time_to_accept_seconds || {}).p90)],
        ['Longest', (g) => fmtDuration((g.time_to_accept_seconds || {}).max)]]],
      ['Waiting', [
        ['Abandonment rate', (g) => pct(g.abandonment_rate)],
        ['Stall notices sent', (g) => n(g.stall_notices)],
        ['Ring timeouts', (g) => n(g.ring_timeouts)],
        ['Returned to the AI by an agent', (g) => n(g.returned_by_agent)]]],
      ['Time to resolve', [
        ['Resolved', (g) => n((g.time_to_resolve_seconds || {}).count)],
        ['Median (p50)', (g) => fmtDuration((g.time_to_resolve_seconds || {}).p50)],
        ['p90', (g) => fmtDuration((g.time_to_resolve_seconds || {}).p90)]]],
    ];
    return h('div', { class: 'card' },
      h('p', { class: 'muted small' }, `Handoffs created from ${r.from} up to ${r.to} (excluded), by ${r.group_by}.`),
      h('div', { class: 'table-wrap scroll', tabindex: '0', role: 'region', 'aria-label': 'Metrics (scrolls sideways when wide)' },
        h('table', { class: 'metrics' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Measure'), groups.map((g) => h('th', { scope: 'col', class: 'num' }, key(g.key))))),
          sections.filter(([, rows]) => rows.length).map(([title, rows]) => h('tbody', {},
            h('tr', { class: 'section' }, h('th', { scope: 'colgroup', colspan: groups.length + 1 }, title)),
            rows.map(([name, get]) => h('tr', {}, h('th', { scope: 'row' }, name), groups.map((g) => h('td', { class: 'num' }, get(g))))))))));
  }

  run();
}

// ---------------------------------------------------------------------------------------------
// The router: #/inbox, #/handoffs/<id>, #/settings, #/teams, #/metrics, #/sign-in.

const ROUTES = [
  [/^#\/inbox$/, inboxPage, 'inbox'],
  [/^#\/handoffs\/([^/]+)$/, handoffPage, 'inbox'],
  [/^#\/settings$/, settingsPage, 'settings', 'admin'],
  [/^#\/teams$/, teamsPage, 'teams', 'admin'],
  [/^#\/metrics$/, metricsPage, 'metrics', 'admin'],
];
let cleanup = null;

function renderHeader(s) {
  const bar = $('#topbar');
  bar.hidden = !s;
  if (!s) return;
  $('#who-user').textContent = s.user_id;
  $('#who-role').textContent = s.role;
  $('#who-ws').textContent = s.workspace_id;
  for (const a of $$('[data-admin]', bar)) a.hidden = s.role !== 'admin';
}

function route() {
  if (typeof cleanup === 'function') cleanup();
  cleanup = null;
  const view = $('#app');
  view.replaceChildren();
  const [path, query = ''] = location.hash.split('?');
  const params = new URLSearchParams(query);
  let s = session.get();
  if (s && s.expires_at && Date.now() > s.expires_at) { session.clear(); s = null; signOutReason = 'Your session expired; sign in again.'; }
  renderHeader(path === '#/sign-in' ? null : s);
  if (!s || path === '#/sign-in') {
    live.stop();
    if (path !== '#/sign-in') {
      afterSignIn = location.hash || '#/inbox';
      history.replaceState(null, '', '#/sign-in');
    }
    signInPage(view);
    return;
  }
  const hit = ROUTES.find(([re]) => re.test(path));
  if (!hit) { location.replace('#/inbox'); return; }
  const [re, page, nav, role] = hit;
  for (const a of $$('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (role && s.role !== role) {
    view.append(pageHead('Not available'), notice('warn', 'This page is for workspace admins.'));
    return;
  }
  live.start();
  const args = path.match(re).slice(1).map(decodeURIComponent);
  cleanup = page(view, params, ...args);
  if (page !== handoffPage) { const t = $('h1', view); if (t) t.focus({ preventScroll: true }); }
}

async function boot() {
  $('#sign-out').addEventListener('click', () => signOut(''));
  $('[data-skip]').addEventListener('click', (e) => { e.preventDefault(); const t = $('#main h1') || $('#main'); t.focus(); });
  window.addEventListener('hashchange', route);
  if (OIDC) {
    try {
      const next = await oidcFinish();
      if (next) history.replaceState(null, '', next);
    } catch (e) {
      signOutReason = e.message;
      location.hash = '#/sign-in';
    }
  }
  if (!location.hash || location.hash === '#') history.replaceState(null, '', '#/inbox');
  route();
}

boot();
