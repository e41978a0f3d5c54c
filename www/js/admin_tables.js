// Dashboard tables updated in place (a row per key, cells rewritten only when their text
// changes, rows that left removed) and the confirmed actions (publish, stall, close a
// connection, purge or delete a queue). URLs are relative: the page works on the main port and
// on the management listener.
import { compact } from './chart.js';

const $ = (id) => document.getElementById(id);

// ---- tables ----------------------------------------------------------------------------------

/**
 * Renders rows into tbody keyed by key(row); cols: [{get(row) -> text, cls}], actions(row) ->
 * [buttons] for a last cell (built once per row). An empty list shows `empty`.
 */
export function renderTable(tbody, rows, { key, cols, actions, empty }) {
  const seen = new Set();
  tbody.querySelector('tr.empty')?.remove();
  for (const row of rows) {
    const k = key(row);
    seen.add(k);
    let tr = [...tbody.children].find((r) => r.dataset.key === k);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.key = k;
      for (const c of cols) {
        const td = document.createElement('td');
        if (c.cls) td.className = c.cls;
        tr.append(td);
      }
      if (actions) {
        const td = document.createElement('td');
        td.className = 'act';
        td.append(...actions(row));
        tr.append(td);
      }
      tbody.append(tr);
    }
    cols.forEach((c, i) => {
      const text = String(c.get(row) ?? '');
      if (tr.children[i].textContent !== text) tr.children[i].textContent = text;
    });
  }
  for (const tr of [...tbody.children]) if (!seen.has(tr.dataset.key)) tr.remove();
  if (!rows.length) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = document.createElement('td');
    td.colSpan = cols.length + (actions ? 1 : 0);
    td.textContent = empty;
    tr.append(td);
    tbody.append(tr);
  }
}

const num = (v) => (typeof v === 'number' ? v : 0);
/** A field that may be a number or an object of numbers by transport: the sum. */
const total = (v) => (v && typeof v === 'object' ? Object.values(v).reduce((a, b) => a + num(b), 0) : num(v));
const bytes = (n) => (n >= 1024 ? `${compact(n / 1024)} KiB` : `${num(n)} B`);
const listOf = (v) => (Array.isArray(v) ? v : Array.isArray(v?.items) ? v.items : []);

export function renderListeners(stats) {
  renderTable($('t-listeners'), stats.listeners || [], {
    key: (l) => `${l.scheme} ${l.address}`,
    cols: [
      { get: (l) => l.scheme },
      { get: (l) => l.address },
      { get: (l) => l.sockets, cls: 'n' },
      { get: (l) => l.backlog, cls: 'n' },
      { get: (l) => l.accept_queue_depth, cls: 'n depth' },
      { get: (l) => l.accept_queue_limit, cls: 'n' },
      { get: (l) => `${l.accept_queue_limit ? ((100 * l.accept_queue_depth) / l.accept_queue_limit).toFixed(1) : 0}%` },
    ],
    empty: 'no listener',
  });
}

export function renderTopics(data) {
  renderTable($('t-topics'), listOf(data), {
    key: (t) => t.name,
    cols: [
      { get: (t) => t.name },
      { get: (t) => total(t.subscribers), cls: 'n' },
      { get: (t) => compact(num(t.publishes ?? t.message_stats?.publish)), cls: 'n' },
      { get: (t) => compact(num(t.deliveries ?? t.message_stats?.deliver_get)), cls: 'n' },
      { get: (t) => num(t.history ?? t.messages), cls: 'n' },
    ],
    empty: 'no topic',
  });
}

export function renderQueues(data) {
  renderTable($('t-queues'), listOf(data), {
    key: (q) => `${q.vhost}|${q.name}`,
    cols: [
      { get: (q) => q.vhost },
      { get: (q) => q.name },
      { get: (q) => num(q.messages_ready), cls: 'n' },
      { get: (q) => num(q.messages_unacknowledged), cls: 'n' },
      { get: (q) => num(q.consumers), cls: 'n' },
    ],
    actions: (q) => [
      button('Purge', 'secondary', () => queueAction(q, 'purge')),
      button('Delete', 'danger', () => queueAction(q, 'delete')),
    ],
    empty: 'no queue',
  });
}

export function renderConnections(data) {
  renderTable($('t-connections'), listOf(data), {
    key: (c) => c.name,
    cols: [
      { get: (c) => c.name },
      { get: (c) => c.protocol },
      { get: (c) => (c.peer_host ? `${c.peer_host}:${c.peer_port}` : '') },
      { get: (c) => c.user ?? '' },
      { get: (c) => bytes(num(c.recv_oct)), cls: 'n' },
      { get: (c) => bytes(num(c.send_oct)), cls: 'n' },
    ],
    actions: (c) => [button('Close', 'danger', () => closeConnection(c))],
    empty: 'no connection',
  });
}

function button(text, cls, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = `small ${cls}`;
  b.addEventListener('click', onClick);
  return b;
}

// ---- dialogs ---------------------------------------------------------------------------------

/** Resolves true when the user confirms `text` in the page's dialog. */
export function confirmInPage(text) {
  const d = $('confirm');
  $('confirm-text').textContent = text;
  d.returnValue = '';
  d.showModal();
  return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
}

let auth = sessionStorage.getItem('sy-admin-auth');

/** The Basic credentials for the management API, asked once per session. */
async function credentials(again = false) {
  if (auth && !again) return auth;
  const d = $('login');
  d.returnValue = '';
  d.showModal();
  const ok = await new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
  if (!ok) return null;
  auth = `Basic ${btoa(`${$('login-user').value}:${$('login-pass').value}`)}`;
  sessionStorage.setItem('sy-admin-auth', auth);
  return auth;
}

/** A management API call with Basic auth; a 401 asks for the credentials once more. */
async function api(method, path, headers = {}, body = undefined) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const a = await credentials(attempt > 0);
    if (!a) return null;
    const res = await fetch(path, { method, headers: { authorization: a, ...headers }, body });
    if (res.status !== 401) return res;
  }
  return null;
}

/** An action open on the main port; on the management listener it answers 401 and is sent
 * again with the management credentials. */
async function action(method, path, headers = {}, body = undefined) {
  const res = await fetch(path, { method, headers, body });
  return res.status === 401 ? api(method, path, headers, body) : res;
}

function report(res, what) {
  const e = $('action-error');
  if (res && res.ok) {
    e.hidden = true;
    return;
  }
  e.hidden = false;
  e.textContent = res ? `${what}: HTTP ${res.status}` : `${what}: cancelled`;
}

const enc = encodeURIComponent;

async function queueAction(q, kind) {
  const purge = kind === 'purge';
  const text = purge
    ? `Purge queue "${q.name}" (vhost ${q.vhost})? Its ${num(q.messages_ready)} ready message(s) are dropped.`
    : `Delete queue "${q.name}" (vhost ${q.vhost})? Its consumers are cancelled and its messages dropped.`;
  if (!(await confirmInPage(text))) return;
  const path = `api/queues/${enc(q.vhost)}/${enc(q.name)}${purge ? '/contents' : ''}`;
  report(await api('DELETE', path), `${purge ? 'purge' : 'delete'} ${q.name}`);
}

async function closeConnection(c) {
  if (!(await confirmInPage(`Close connection ${c.name} (${c.protocol})?`))) return;
  const res = await api('DELETE', `api/connections/${enc(c.name)}`, { 'x-reason': 'closed from the dashboard' });
  report(res, `close ${c.name}`);
}

// ---- publish and stall -----------------------------------------------------------------------

export function wireActions() {
  $('publish').addEventListener('submit', async (e) => {
    e.preventDefault();
    const topic = $('pub-topic').value.trim();
    const text = $('pub-text').value;
    if (!(await confirmInPage(`Publish "${text}" to topic ${topic}?`))) return;
    const res = await action('POST', `pub/${enc(topic)}`,
      { 'content-type': 'text/plain; charset=utf-8' }, text);
    if (!res) {
      $('pub-result').textContent = 'cancelled';
      return;
    }
    const body = await res.text();
    let msg = `HTTP ${res.status}: ${body.trim()}`;
    if (res.ok) {
      const r = JSON.parse(body);
      msg = `published #${r.id} to ${topic}, ${r.subscribers} subscriber(s)`;
    }
    $('pub-result').textContent = msg;
  });
  $('stall').addEventListener('submit', async (e) => {
    e.preventDefault();
    const s = Math.min(60, Math.max(1, Number($('stall-s').value) || 5));
    if (!(await confirmInPage(`Stop accepting connections on every listener for ${s} s?`))) return;
    const res = await action('POST', `debug/stall?ms=${s * 1000}`);
    $('stall-result').textContent = !res ? 'cancelled' : res.ok
      ? `accept paused for ${s} s: new connections queue in the kernel`
      : res.status === 404
        ? 'stalling is off: start the server with --debug-stall (debug_stall = true)'
        : `HTTP ${res.status}`;
  });
}
