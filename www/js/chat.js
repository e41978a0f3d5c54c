// Chat over one WebSocket per room: /sub/chat.{room}?envelope=1&since=N&presence=NAME.
// The server replays history after `since`, publishes join/leave for `presence`, and publishes
// whatever we send on the socket to the room's topic.
import {
  el, wsUrl, cleanToken, tryJson, clock, backoff, setStatus, envelopeValue, envelopeText,
} from './common.js';

const $ = (id) => document.getElementById(id);
const log = $('log');
const status = $('status');

let session = null; // {name, room, ws, lastId, attempt, timer, closed}

function addLine(kind, parts, id) {
  const li = el('li', { class: `line ${kind}` });
  if (id !== undefined) li.dataset.id = id;
  li.append(...parts);
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function render(envelope) {
  const msg = envelopeValue(envelope);
  const at = Number(envelope.time) > 0 ? new Date(Number(envelope.time)) : new Date();
  const when = el('time', { class: 'when', datetime: at.toISOString() }, clock(at));
  if (msg?.type === 'msg') {
    const mine = msg.name === session.name;
    addLine(mine ? 'msg mine' : 'msg',
      [when, el('b', { class: 'who' }, String(msg.name ?? '?')), el('span', { class: 'text' }, String(msg.text ?? ''))],
      envelope.id);
  } else if (msg?.type === 'join' || msg?.type === 'leave') {
    const verb = msg.type === 'join' ? 'joined' : 'left';
    addLine(`presence ${msg.type}`, [when, `${msg.name} ${verb}`], envelope.id);
  } else {
    addLine('raw', [when, el('code', {}, envelopeText(envelope))], envelope.id);
  }
}

function onFrame(ev) {
  const f = tryJson(typeof ev.data === 'string' ? ev.data : '');
  if (!f) return;
  if (f.type === 'gap') {
    addLine('gap', [`${f.lost} message(s) no longer in history (ids ${f.from}–${f.to})`]);
    if (Number(f.to) > session.lastId) session.lastId = Number(f.to);
    return;
  }
  const id = Number(f.id);
  if (!(id > session.lastId)) return; // a replay we already showed
  session.lastId = id;
  render(f);
}

function connect() {
  const s = session;
  const q = new URLSearchParams({ envelope: '1', since: String(s.lastId), presence: s.name });
  const url = wsUrl(`/sub/chat.${s.room}?${q}`);
  $('url').textContent = url;
  setStatus(status, 'connecting', s.attempt ? 'reconnecting…' : 'connecting…');
  const ws = new WebSocket(url);
  s.ws = ws;
  ws.onopen = () => {
    s.attempt = 0;
    setStatus(status, 'open', `connected as ${s.name}`);
    $('text').disabled = false;
    $('send-btn').disabled = false;
    $('text').focus();
  };
  ws.onmessage = onFrame;
  ws.onclose = () => {
    $('send-btn').disabled = true;
    if (s.closed || session !== s) return;
    const delay = backoff(s.attempt++);
    setStatus(status, 'retry', `disconnected; retrying in ${(delay / 1000).toFixed(1)} s`);
    s.timer = setTimeout(connect, delay);
  };
}

function leave() {
  if (!session) return;
  session.closed = true;
  clearTimeout(session.timer);
  session.ws?.close(1000, 'bye');
  session = null;
  setStatus(status, 'idle', 'not connected');
  $('text').disabled = true;
  $('send-btn').disabled = true;
  $('join-btn').hidden = false;
  $('leave-btn').hidden = true;
  $('name').disabled = $('room').disabled = false;
}

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  leave();
  const name = $('name').value.trim().slice(0, 32);
  const room = cleanToken($('room').value, 'lobby');
  if (!name) return;
  localStorage.setItem('chat.name', name);
  log.replaceChildren();
  $('room-title').textContent = `Room ${room}`;
  session = { name, room, ws: null, lastId: 0, attempt: 0, timer: 0, closed: false };
  $('join-btn').hidden = true;
  $('leave-btn').hidden = false;
  $('name').disabled = $('room').disabled = true;
  history.replaceState(null, '', `?room=${encodeURIComponent(room)}`);
  connect();
});

$('leave-btn').addEventListener('click', leave);

$('send').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text.trim() || session?.ws?.readyState !== WebSocket.OPEN) return;
  session.ws.send(JSON.stringify({ type: 'msg', name: session.name, text }));
  $('text').value = '';
});

$('name').value = localStorage.getItem('chat.name') || '';
const qsRoom = new URLSearchParams(location.search).get('room');
if (qsRoom) $('room').value = cleanToken(qsRoom, 'lobby');

// Test hook: drop the socket as a network blip would (no Leave), to exercise the resume path.
window.chatDebug = { drop: () => session?.ws?.close(4000, 'simulated drop') };
