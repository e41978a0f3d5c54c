// Live stream: one EventSource on /sub/{topic}. The browser resends Last-Event-ID when it
// reconnects, so the server can replay exactly what we missed (or send `event: gap`).
// The page counts ids and flags any hole the server did not explain with a gap event.
import { el, cleanToken, tryJson, clock, setStatus } from './common.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 1000; // DOM rows kept; counters keep counting past it

const state = { es: null, topic: '', msgs: 0, gaps: 0, lost: 0, holes: 0, conns: 0, lastId: 0 };
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

function onMessage(ev) {
  const id = Number(ev.lastEventId);
  if (state.lastId && id > state.lastId + 1) state.holes += id - state.lastId - 1;
  if (id > state.lastId) state.lastId = id;
  state.msgs++;
  row(el('li', { dataset: { id } }, el('span', { class: 'id' }, `#${id}`),
    el('time', { class: 'when' }, clock()), el('span', { class: 'data' }, ev.data)));
  counters();
}

function onGap(ev) {
  const g = tryJson(ev.data) || {};
  state.gaps++;
  state.lost += Number(g.lost) || 0;
  // The server accounted for these ids: they are not unexplained holes.
  if (Number(g.to) > state.lastId) state.lastId = Number(g.to);
  row(el('li', { class: 'gap', dataset: { gap: `${g.from}-${g.to}` } }, el('span', { class: 'id' }, 'gap'),
    el('time', { class: 'when' }, clock()), `${g.lost} message(s) lost: ids ${g.from}–${g.to}`));
  counters();
}

function follow(topic) {
  state.es?.close();
  Object.assign(state, { topic, msgs: 0, gaps: 0, lost: 0, holes: 0, conns: 0, lastId: 0 });
  $('stream').replaceChildren();
  $('curl').textContent = `curl -d 'hello' ${location.origin}/pub/${topic}`;
  history.replaceState(null, '', `?topic=${encodeURIComponent(topic)}`);
  // retry=1000: the server sends "retry: 1000", so after a drop the browser reconnects in ~1 s.
  const es = new EventSource(`/sub/${encodeURIComponent(topic)}?retry=1000`);
  state.es = es;
  setStatus($('status'), 'connecting', 'connecting…');
  es.onopen = () => {
    state.conns++;
    setStatus($('status'), 'open', state.conns > 1 ? `resumed after #${state.lastId}` : 'connected');
    counters();
  };
  es.onmessage = onMessage;
  es.addEventListener('gap', onGap);
  es.onerror = () => {
    // CONNECTING: the browser retries by itself with Last-Event-ID; CLOSED: it gave up.
    if (es.readyState === EventSource.CLOSED) setStatus($('status'), 'error', 'closed by the server');
    else setStatus($('status'), 'retry', `dropped; resuming after #${state.lastId}`);
  };
  counters();
}

$('follow').addEventListener('submit', (e) => {
  e.preventDefault();
  follow(cleanTopic($('topic').value));
});

function cleanTopic(s) {
  return s.split('.').map((t) => cleanToken(t, '')).filter(Boolean).join('.') || 'live';
}

$('publish').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value;
  const topic = state.topic || cleanTopic($('topic').value);
  try {
    const res = await fetch(`/pub/${encodeURIComponent(topic)}`, {
      method: 'POST', headers: { 'content-type': 'text/plain' }, body: text,
    });
    const r = tryJson(await res.text()) || {};
    $('pub-result').textContent = res.ok
      ? `published #${r.id} to ${r.subscribers} subscriber(s)` : `HTTP ${res.status}`;
    if (res.ok) $('text').value = '';
  } catch (err) {
    $('pub-result').textContent = `failed: ${err.message}`;
  }
});

const qsTopic = new URLSearchParams(location.search).get('topic');
follow(cleanTopic(qsTopic || $('topic').value));
$('topic').value = state.topic;
