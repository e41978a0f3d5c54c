// Jobs demo: submit a job, optionally work it from this page, and watch it four ways.
// The worker records when it sent each progress value so every watcher can show its delay.
// Short polling, long polling and SSE show the jobs API's own endpoints bare (the point of the
// page: the techniques side by side; EventSource reconnects by itself). The WebSocket panel
// follows the job's hub topic with @switchyard/client, which reconnects and resumes.
import { Client } from '/lib/switchyard-client/index.js';
import { el, tryJson, clock } from './common.js';

const $ = (id) => document.getElementById(id);
const sentAt = new Map(); // `${jobId}:${progress}` -> performance.now() when the PUT was sent
const reports = new Map(); // jobId -> number of distinct progress values the worker reported
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isDone(job) {
  return Number(job.progress) >= 100 || ['done', 'completed', 'failed', 'error'].includes(job.status);
}

/** One panel: progress, status, request count, updates seen and delays. */
class Watcher {
  constructor(node, jobId) {
    this.node = node;
    this.jobId = jobId;
    this.requests = 0;
    this.seen = new Set();
    this.delays = [];
    this.progress = -1;
    this.stopped = false;
    node.dataset.done = 'false';
    node.querySelector('.body')?.remove();
    const body = el('div', { class: 'body' });
    this.bar = el('progress', { max: '100', value: '0', 'aria-label': 'progress' });
    this.pct = el('div', { class: 'pct' }, '0%');
    this.f = {};
    const dl = el('dl');
    for (const [k, label] of [['status', 'status'], ['requests', 'HTTP requests'],
      ['updates', 'updates seen'], ['last', 'last delay'], ['mean', 'mean delay'], ['max', 'max delay']]) {
      this.f[k] = el('dd', { class: k }, '—');
      dl.append(el('dt', {}, label), this.f[k]);
    }
    body.append(this.pct, this.bar, dl);
    node.append(body);
  }

  countRequest() {
    this.requests++;
    this.f.requests.textContent = this.requests;
  }

  /** Called with every job state a transport delivers (possibly unchanged). */
  see(job) {
    if (this.stopped || !job) return;
    const p = Math.max(0, Math.min(100, Number(job.progress) || 0));
    if (!this.seen.has(p)) {
      this.seen.add(p);
      const t = sentAt.get(`${this.jobId}:${p}`);
      if (t !== undefined) this.delays.push(performance.now() - t);
      // Worked elsewhere: fall back to the job's own wall-clock `updated` (ms since the epoch).
      else if (Number(job.updated) > 0) this.delays.push(Math.max(0, Date.now() - Number(job.updated)));
    }
    this.progress = p;
    this.bar.value = p;
    this.pct.textContent = `${p}%`;
    this.f.status.textContent = job.status ?? '—';
    const total = reports.get(this.jobId);
    this.f.updates.textContent = total ? `${this.seen.size} of ${total}` : this.seen.size;
    if (this.delays.length) {
      const d = this.delays;
      this.f.last.textContent = ms(d[d.length - 1]);
      this.f.mean.textContent = ms(d.reduce((a, b) => a + b, 0) / d.length);
      this.f.max.textContent = ms(Math.max(...d));
    }
    if (isDone(job)) {
      this.node.dataset.done = 'true';
      this.stop();
    }
  }

  stop() {
    this.stopped = true;
    this.onStop?.();
  }
}

const ms = (x) => `${Math.round(x)} ms`;

function shortPoll(w) {
  const tick = async () => {
    if (w.stopped) return;
    w.countRequest();
    try {
      const res = await fetch(`/jobs/${w.jobId}`, { cache: 'no-store' });
      if (res.ok) w.see(await res.json());
    } catch { /* next tick retries */ }
  };
  const timer = setInterval(tick, 1000);
  w.onStop = () => clearInterval(timer);
  tick();
}

async function longPoll(w) {
  let version = null;
  while (!w.stopped) {
    w.countRequest();
    const q = version === null ? '' : `?wait=30&version=${version}`;
    try {
      const res = await fetch(`/jobs/${w.jobId}${q}`, { cache: 'no-store' });
      if (res.status === 200) {
        const job = await res.json();
        if (job.version !== undefined) version = job.version;
        w.see(job);
      } else if (res.status !== 304) {
        await sleep(1000);
      }
    } catch {
      await sleep(1000);
    }
  }
}

function sse(w) {
  const es = new EventSource(`/jobs/${w.jobId}/events`);
  w.countRequest();
  let opened = 0;
  es.onopen = () => { if (opened++) w.countRequest(); }; // the browser reconnected
  const on = (ev) => w.see(tryJson(ev.data));
  es.onmessage = on;
  es.addEventListener('job', on);
  es.addEventListener('progress', on);
  w.onStop = () => es.close();
}

const client = new Client(location.origin, { transports: ['websocket'] });

// jobs.{id} from its first update (since: 0); each (re)connect the client makes is a request.
function webSocket(w) {
  const sub = client.subscribe(`jobs.${w.jobId}`, { since: 0 });
  sub.on('state', (s) => { if (s.state === 'open') w.countRequest(); });
  sub.on('message', (m) => w.see(typeof m.data === 'string' ? tryJson(m.data) : m.data));
  w.onStop = () => sub.close();
}

let watchers = [];

function watch(jobId) {
  for (const w of watchers) w.stop();
  $('job-id').textContent = `#${jobId}`;
  const make = (id, start) => {
    const w = new Watcher($(id), jobId);
    start(w);
    return w;
  };
  watchers = [make('w-short', shortPoll), make('w-long', longPoll), make('w-sse', sse),
    make('w-ws', webSocket)];
}

$('submit').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('submit-btn').disabled = true;
  try {
    const res = await fetch('/jobs', {
      method: 'POST', headers: { 'content-type': 'text/plain' }, body: $('payload').value,
    });
    const r = await res.json();
    sentAt.set(`${r.id}:0`, performance.now());
    $('job-info').textContent = `Job ${r.id} submitted at ${clock()}.`;
    history.replaceState(null, '', `?job=${encodeURIComponent(r.id)}`);
    watch(r.id);
  } catch (err) {
    $('job-info').textContent = `Submit failed: ${err.message}`;
  } finally {
    $('submit-btn').disabled = false;
  }
});

// ---- worker ---------------------------------------------------------------------------------

function workerLog(text) {
  const log = $('worker-log');
  log.append(el('li', {}, `${clock()} ${text}`));
  while (log.childElementCount > 50) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

async function report(id, body) {
  sentAt.set(`${id}:${body.progress}`, performance.now());
  reports.set(id, (reports.get(id) || 1) + 1); // +1: progress 0 at submit
  const res = await fetch(`/jobs/${id}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`PUT /jobs/${id}: HTTP ${res.status}`);
}

async function work(job) {
  workerLog(`took job ${job.id}`);
  for (let p = 5; p <= 100; p += 5) {
    await sleep(300);
    const done = p === 100;
    // The lease (from /jobs/next) proves this worker still holds the job: after a visibility
    // timeout the job goes to another worker and our stale reports get 409.
    await report(job.id, {
      lease: job.lease, progress: p, status: done ? 'done' : 'running',
      result: done ? `processed: ${typeof job.payload === 'string' ? job.payload : JSON.stringify(job.payload)}` : null,
    });
  }
  workerLog(`finished job ${job.id}`);
}

let workerRunning = false;
let waiting = null; // AbortController of the outstanding GET /jobs/next
async function workerLoop() {
  if (workerRunning) return;
  workerRunning = true;
  while ($('worker-on').checked) {
    try {
      waiting = new AbortController();
      const res = await fetch('/jobs/next?timeout=10', { cache: 'no-store', signal: waiting.signal });
      if (res.status === 200) await work(await res.json());
      else if (res.status !== 204) await sleep(1000);
    } catch (err) {
      if (err.name === 'AbortError') break;
      workerLog(`error: ${err.message}`);
      await sleep(1000);
    }
  }
  waiting = null;
  workerRunning = false;
  workerLog('worker stopped');
}

// ?job=ID: watch an existing job (e.g. one submitted with curl).
const qsJob = new URLSearchParams(location.search).get('job');
if (qsJob && /^[A-Za-z0-9_-]+$/.test(qsJob)) watch(qsJob);

// Unticked: stop waiting at once (a job handed to a request that is gone goes back to the queue
// for the other workers, e.g. AMQP consumers of "jobs").
$('worker-on').addEventListener('change', () => {
  if ($('worker-on').checked) workerLoop();
  else waiting?.abort();
});
workerLoop();
