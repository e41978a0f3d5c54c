// A two-party call: signaling on /signal/{room} (a hub topic route with presence), media and a
// DataChannel over an RTCPeerConnection whose ICE servers are switchyard's STUN and TURN.
// URL parameters: room, stun=HOST:PORT, turn=HOST:PORT, user, pass, transport=udp|tcp,
// policy=all|relay. The page's state is mirrored in window.call for tests.
const q = new URLSearchParams(location.search);
const room = q.get('room') || 'lobby';
const me = `p${Math.random().toString(36).slice(2, 10)}`;
const $ = (id) => document.getElementById(id);

function iceServers() {
  const host = location.hostname;
  const servers = [];
  const stun = q.get('stun') ?? `${host}:3478`;
  if (stun) servers.push({ urls: `stun:${stun}` });
  if (q.get('turn')) {
    const transport = q.get('transport') || 'udp';
    servers.push({ urls: `turn:${q.get('turn')}?transport=${transport}`,
      username: q.get('user') || '', credential: q.get('pass') || '' });
  }
  return servers;
}

const call = window.call = { me, room, state: 'idle', chat: [], pairType: '', remoteType: '',
  framesDecoded: 0, bytesReceived: 0, dataOpen: false };


function status(state, text) {
  call.state = state;
  $('status').dataset.state = state;
  $('status').textContent = text;
}

function log(who, text) {
  const li = document.createElement('li');
  li.className = 'msg';
  li.innerHTML = '<span class="who"></span> <span class="text"></span>';
  li.querySelector('.who').textContent = who;
  li.querySelector('.text').textContent = text;
  $('log').append(li);
  call.chat.push({ who, text });
}

let pc = null;
let dc = null;
let peer = null;
let ws = null;
let localStream = null;

function send(msg) {
  ws.send(JSON.stringify({ ...msg, from: me, to: peer }));
}

function wireChannel(ch) {
  dc = ch;
  dc.onopen = () => {
    call.dataOpen = true;
    $('text').disabled = $('send-btn').disabled = false;
    status('open', 'connected');
  };
  dc.onclose = () => { call.dataOpen = false; };
  dc.onmessage = (e) => log('peer', e.data);
}

function makePeerConnection() {
  pc = new RTCPeerConnection({ iceServers: iceServers(),
    iceTransportPolicy: q.get('policy') === 'relay' ? 'relay' : 'all' });
  for (const t of localStream.getTracks()) pc.addTrack(t, localStream);
  pc.onicecandidate = (e) => { if (e.candidate) send({ type: 'candidate', candidate: e.candidate }); };
  pc.ontrack = (e) => { $('remote').srcObject = e.streams[0]; };
  pc.ondatachannel = (e) => wireChannel(e.channel);
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed') status('failed', 'ICE failed');
  };
}

async function startCall() {
  makePeerConnection();
  wireChannel(pc.createDataChannel('chat'));
  await pc.setLocalDescription(await pc.createOffer());
  send({ type: 'offer', sdp: pc.localDescription });
  status('calling', 'calling');
}

async function onSignal(msg) {
  if (msg.type === 'join' && msg.name !== me && !peer) {
    // The one already in the room calls the newcomer (no glare: only it saw the join).
    peer = msg.name;
    return startCall();
  }
  if (msg.type === 'leave' && msg.name === peer) return hangup('peer left');
  if (msg.from === me || (msg.to && msg.to !== me)) return;
  if (msg.type === 'offer' && !pc) {
    peer = msg.from;
    makePeerConnection();
    await pc.setRemoteDescription(msg.sdp);
    await pc.setLocalDescription(await pc.createAnswer());
    send({ type: 'answer', sdp: pc.localDescription });
    status('calling', 'answering');
  } else if (msg.type === 'answer' && pc) {
    await pc.setRemoteDescription(msg.sdp);
  } else if (msg.type === 'candidate' && pc) {
    await pc.addIceCandidate(msg.candidate).catch(() => {});
  }
}

async function stats() {
  if (!pc) return;
  const report = await pc.getStats();
  let pair = null;
  const rows = {};
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      call.framesDecoded = s.framesDecoded || 0;
      call.bytesReceived = s.bytesReceived || 0;
      rows['video frames decoded'] = call.framesDecoded;
      rows['video bytes in'] = call.bytesReceived;
      if (s.framesPerSecond) rows['frames/s'] = s.framesPerSecond;
    }
  });
  if (pair) {
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    call.pairType = local ? local.candidateType : '';
    call.remoteType = remote ? remote.candidateType : '';
    $('pair').dataset.type = call.pairType;
    $('pair').textContent = `${local?.candidateType} ${local?.address}:${local?.port} ⇄ ` +
      `${remote?.candidateType} ${remote?.address}:${remote?.port}`;
    if (pair.currentRoundTripTime !== undefined) rows['round trip (ms)'] = Math.round(pair.currentRoundTripTime * 1000);
  }
  const dl = $('stats');
  dl.replaceChildren();
  for (const [k, v] of Object.entries(rows)) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
}

function hangup(why) {
  if (pc) pc.close();
  pc = dc = null;
  peer = null;
  call.dataOpen = false;
  status('idle', why || 'hung up');
}

async function main() {
  $('room').textContent = room;
  localStream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false });
  $('local').srcObject = localStream;
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${proto}://${location.host}/signal/${encodeURIComponent(room)}?presence=${me}`);
  // One signal at a time: a candidate must wait until the offer before it is applied.
  let chain = Promise.resolve();
  ws.onmessage = (e) => {
    chain = chain.then(() => onSignal(JSON.parse(e.data))).catch((err) => console.error(err));
  };
  ws.onopen = () => status('waiting', 'waiting for a peer');
  $('send').onsubmit = (e) => {
    e.preventDefault();
    const text = $('text').value;
    if (!text || !dc || dc.readyState !== 'open') return;
    dc.send(text);
    log('you', text);
    $('text').value = '';
  };
  $('hangup').onclick = () => hangup();
  setInterval(stats, 500);
}

main().catch((e) => status('failed', String(e)));
