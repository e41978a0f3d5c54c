// Live stream on @switchyard/client (served at /lib/switchyard-client/, docs/client.md): one
// subscription on /sub/{topic} over the first transport that works (WebSocket, SSE, long poll;
// ?transport= picks one). When the connection drops, or the server restarts, the client
// reconnects by itself and resumes after the last id it delivered; ids it cannot deliver come
// as an explicit gap. The page counts ids and flags any hole that no gap explained (there
// should be none): it has no reconnect code of its own.
import { Client } from '/lib/switchyard-client/index.js';
import { el, cleanToken, clock, setStatus } from './common.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 1000; // DOM rows kept; counters keep counting past it
const TRANSPORTS = ['websocket', 'sse', 'longpoll'];

const client = new Client(location.origin);
const state = {
  sub: null, topic: '', transport: '', msgs: 0, gaps: 0, lost: 0, holes: 0, conns: 0, lastId: 0,
  resets: 0, // times the server came back without its history (ids start again)
};
window.liveState = state; // for tests and the curious

function row(li) {
  const list = $('stream');
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(li);
  while (list.childElementCount > MAX_ROWS) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function counters() {
  $('n-msgs').textContent = state.msgs;
  $('last-id').textContent = state.lastId || '—';
  $('n-gaps').textContent = `${state.gaps} (${state.lost})`;
  $('n-holes').textContent = state.holes;
  $('n-conns').textContent = state.conns;
}

function text(m) {
  if (m.encoding === 'base64') return `(binary, base64) ${m.data}`;
  return typeof m.data === 'string' ? m.data : JSON.stringify(m.data);
}

function onMessage(m) {
  if (state.lastId && m.id > state.lastId + 1) state.holes += m.id - state.lastId - 1;
  state.lastId = m.id;
  state.msgs++;
  row(el('li', { dataset: { id: m.id, epoch: state.resets } }, el('span', { class: 'id' }, `#${m.id}`),
    el('time', { class: 'when' }, clock()), el('span', { class: 'data' }, text(m))));
  counters();
}

function onGap(g) {
  state.gaps++;
  if (g.reset) {
    // The server restarted without its history: its ids begin again after this row.
    state.resets++;
    state.lastId = 0;
    row(el('li', { class: 'gap', dataset: { gap: 'reset' } }, el('span', { class: 'id' }, 'reset'),
      el('time', { class: 'when' }, clock()), `the server restarted; ids after #${g.previous} begin again`));
  } else {
    state.lost += Number(g.lost) || 0;
    // The server (or the client) accounted for these ids: they are not unexplained holes.
    if (g.to > state.lastId) state.lastId = g.to;
    row(el('li', { class: 'gap', dataset: { gap: `${g.from}-${g.to}` } }, el('span', { class: 'id' }, 'gap'),
      el('time', { class: 'when' }, clock()), `${g.lost} message(s) lost: ids ${g.from}–${g.to}`));
  }
  counters();
}

function onState(s) {
  const via = s.transport ?? '';
  if (s.state === 'open') {
    state.conns++;
    state.transport = via;
    const from = state.lastId ? `after #${state.lastId}` : 'from the first id';
    setStatus($('status'), 'open', state.conns > 1 ? `resumed ${from} (${via})` : `connected (${via})`);
  } else if (s.state === 'reconnecting') {
    setStatus($('status'), 'retry', `dropped; resuming after #${state.lastId} (trying ${via})`);
  } else if (s.state === 'connecting') {
    setStatus($('status'), 'connecting', `connecting (${via})…`);
  }
  counters();
}

function follow(topic, transport) {
  state.sub?.close();
  Object.assign(state, { topic, transport: '', msgs: 0, gaps: 0, lost: 0, holes: 0, conns: 0, lastId: 0, resets: 0 });
  $('stream').replaceChildren();
  $('curl').textContent = `curl -d 'hello' ${location.origin}/pub/${topic}`;
  const q = new URLSearchParams({ topic });
  if (transport) q.set('transport', transport);
  history.replaceState(null, '', `?${q}`);
  // Live from now (no since): the first id received is where a resume starts.
  state.sub = client.subscribe(topic, transport ? { transports: [transport] } : {});
  state.sub.on('message', onMessage).on('gap', onGap).on('state', onState);
  counters();
}

function cleanTopic(s) {
  return s.split('.').map((t) => cleanToken(t, '')).filter(Boolean).join('.') || 'live';
}

function cleanTransport(s) {
  return TRANSPORTS.includes(s) ? s : '';
}

$('follow').addEventListener('submit', (e) => {
  e.preventDefault();
  follow(cleanTopic($('topic').value), cleanTransport($('transport').value));
});

$('publish').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = $('text').value;
  const topic = state.topic || cleanTopic($('topic').value);
  try {
    const r = await client.publish(topic, body);
    $('pub-result').textContent = `published #${r.id} to ${r.subscribers} subscriber(s)`;
    $('text').value = '';
  } catch (err) {
    $('pub-result').textContent = err.status ? `HTTP ${err.status}: ${err.message}` : `failed: ${err.message}`;
  }
});

const qs = new URLSearchParams(location.search);
$('transport').value = cleanTransport(qs.get('transport'));
follow(cleanTopic(qs.get('topic') || $('topic').value), $('transport').value);
$('topic').value = state.topic;
