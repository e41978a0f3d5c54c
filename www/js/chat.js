// Chat on @switchyard/client (served at /lib/switchyard-client/, docs/client.md): one
// subscription per room on topic chat.{room} over WebSocket, from the start of the room's
// history (since: 0), with presence=NAME (the server publishes join/leave). After a drop the
// client reconnects by itself and resumes after the last id it delivered, so every message is
// shown once; the page has no reconnect code of its own. Sending is POST /pub/chat.{room}.
import { Client } from '/lib/switchyard-client/index.js';
import { el, cleanToken, clock, setStatus, tryJson } from './common.js';

const $ = (id) => document.getElementById(id);
const log = $('log');
const status = $('status');

// The WebSocket the client opened last, for the test hook at the bottom.
let socket = null;
class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    socket = this;
  }
}
const client = new Client(location.origin, { transports: ['websocket'], WebSocket: TrackedWebSocket });

let session = null; // {name, room, sub}

function addLine(kind, parts, id) {
  const li = el('li', { class: `line ${kind}` });
  if (id !== undefined) li.dataset.id = id;
  li.append(...parts);
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function when(ms) {
  const at = Number(ms) > 0 ? new Date(Number(ms)) : new Date();
  return el('time', { class: 'when', datetime: at.toISOString() }, clock(at));
}

// A message of the room: {type:'msg', name, text} from this page or any publisher; anything
// else is shown raw.
function onMessage(m) {
  const msg = typeof m.data === 'string' && m.encoding !== 'base64' ? (tryJson(m.data) ?? m.data) : m.data;
  if (msg && typeof msg === 'object' && msg.type === 'msg') {
    const mine = msg.name === session.name;
    addLine(mine ? 'msg mine' : 'msg', [when(m.time), el('b', { class: 'who' }, String(msg.name ?? '?')),
      el('span', { class: 'text' }, String(msg.text ?? ''))], m.id);
    return;
  }
  const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
  addLine('raw', [when(m.time), el('code', {}, m.encoding === 'base64' ? `(binary, base64) ${text}` : text)], m.id);
}

function onPresence(p) {
  addLine(`presence ${p.type}`, [when(), `${p.name} ${p.type === 'join' ? 'joined' : 'left'}`], p.id);
}

function onGap(g) {
  if (g.reset) addLine('gap', [`the server restarted without its history; ids after #${g.previous} begin again`]);
  else addLine('gap', [`${g.lost} message(s) no longer in history (ids ${g.from}–${g.to})`]);
}

function onState(s) {
  const open = s.state === 'open';
  $('text').disabled = !open;
  $('send-btn').disabled = !open;
  if (open) {
    setStatus(status, 'open', `connected as ${session.name}`);
    $('text').focus();
  } else if (s.state === 'reconnecting') {
    setStatus(status, 'retry', `disconnected; resuming after #${s.lastId ?? 0}`);
  } else if (s.state === 'connecting') {
    setStatus(status, 'connecting', 'connecting…');
  }
}

function connect() {
  const s = session;
  $('url').textContent = `${location.origin.replace(/^http/, 'ws')}/sub/chat.${s.room}?envelope=1&since=N&presence=${s.name}`;
  s.sub = client.subscribe(`chat.${s.room}`, { since: 0, presence: s.name });
  s.sub.on('message', onMessage).on('presence', onPresence).on('gap', onGap).on('state', onState);
}

function leave() {
  if (!session) return;
  session.sub.close(); // a clean close: the server publishes "left"
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
  session = { name, room, sub: null };
  $('join-btn').hidden = true;
  $('leave-btn').hidden = false;
  $('name').disabled = $('room').disabled = true;
  history.replaceState(null, '', `?room=${encodeURIComponent(room)}`);
  connect();
});

$('leave-btn').addEventListener('click', leave);

$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text.trim() || session?.sub.state !== 'open') return;
  $('text').value = '';
  try {
    await session.sub.publish({ type: 'msg', name: session.name, text });
  } catch (err) {
    addLine('gap', [`not sent (${err.message}): ${text}`]);
  }
});

$('name').value = localStorage.getItem('chat.name') || '';
const qsRoom = new URLSearchParams(location.search).get('room');
if (qsRoom) $('room').value = cleanToken(qsRoom, 'lobby');

// Test hook: drop the socket as a network blip would (no Leave), to exercise the resume path.
window.chatDebug = { drop: () => socket?.close(4000, 'simulated drop') };
