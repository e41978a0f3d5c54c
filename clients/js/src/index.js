// @switchyard/client: one subscription API over the server's three push transports
// (docs/patterns/websocket.md, sse.md, polling.md), for browsers and Node 20.
//
//   const client = new Client('http://127.0.0.1:8080');
//   const sub = client.subscribe('news.a', { since: 0 });
//   sub.on('message', (m) => console.log(m.id, m.data));
//   sub.on('gap', (g) => console.warn('lost', g.lost));
//   await client.publish('news.a', { hello: 'world' });
//
// Contract: a subscription hands each message id to 'message' once, in order; ids it cannot
// deliver are reported by one 'gap' (the server's, or the client's own when ids jump), so there
// is never a silent hole. When the ids restart below the last one seen (the server restarted
// without its history) a 'gap' with reset: true comes first. Transports are tried in order
// (WebSocket, SSE, long poll); one that fails before it ever opened is skipped for the next; when
// every one failed, the client waits (jittered exponential backoff) and tries again from the
// last one that worked. Each (re)connect resumes after the last id seen (?since=N); before it,
// GET /topics/{topic} checks the server is reachable and still holds that id (its newest id below
// ours means it restarted without history: a reset gap, then everything it has).
//
// Wire: WebSocket GET /sub/{topic}?envelope=1&since=N[&presence=NAME] (text frames: the JSON
// envelope or a gap object); SSE the same URL with Accept: text/event-stream, read with fetch
// (so a token header can be sent and the reconnect is ours); long poll the same URL without
// it, one message per 200 (ETag/X-Message-Id, X-Lost/X-Lost-From), 304 on timeout.

const DEFAULTS = {
  transports: ['websocket', 'sse', 'longpoll'],
  minDelay: 250, // ms: the first reconnect waits 125..250 ms
  maxDelay: 5000, // ms: the cap of the doubling
  openTimeout: 5000, // ms: a transport that does not open in this time has failed
  pollTimeout: 25, // s: the long poll's ?timeout=
  token: null, // async () => string | null: called before every connect and publish
  tokenParam: 'token', // the WebSocket's query parameter for the token (the server's auth.token_query_param)
};

class Emitter {
  #handlers = new Map();

  on(event, fn) {
    if (!this.#handlers.has(event)) this.#handlers.set(event, new Set());
    this.#handlers.get(event).add(fn);
    return this;
  }

  off(event, fn) {
    this.#handlers.get(event)?.delete(fn);
    return this;
  }

  emit(event, value) {
    for (const fn of this.#handlers.get(event) ?? []) fn(value);
  }
}

/** Reconnect delay for attempt n (0, 1, ...): half fixed, half random, so clients spread out. */
export function backoff(attempt, minDelay = DEFAULTS.minDelay, maxDelay = DEFAULTS.maxDelay) {
  const base = Math.min(maxDelay, minDelay * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

function isJsonType(ct) {
  return /^application\/json/i.test(ct) || /\+json/i.test(ct);
}

function isTextType(ct) {
  return !ct || /^text\//i.test(ct) || isJsonType(ct) || /xml|javascript/i.test(ct)
    || /^application\/x-www-form-urlencoded/i.test(ct);
}

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** A long-poll 200 as the envelope WebSocket and SSE carry (data as the server would embed it). */
async function envelopeOf(res, topic) {
  const ct = res.headers.get('content-type') ?? '';
  const bytes = new Uint8Array(await res.arrayBuffer());
  const env = {
    type: 'message', id: Number(res.headers.get('x-message-id')),
    topic: res.headers.get('x-topic') ?? topic, content_type: ct,
  };
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined && isTextType(ct)) {
    env.data = text;
    if (isJsonType(ct)) {
      try {
        env.data = JSON.parse(text);
      } catch {
        env.data = text;
      }
    }
  } else {
    env.data = base64(bytes);
    env.encoding = 'base64';
  }
  return env;
}

/** Splits an SSE byte stream into events (the WHATWG "event stream" rules that matter here). */
function sseParser(onEvent) {
  let buf = '';
  let ev = { event: 'message', data: [], id: undefined };
  const line = (l) => {
    if (l === '') {
      if (ev.data.length) onEvent({ event: ev.event, data: ev.data.join('\n'), id: ev.id });
      ev = { event: 'message', data: [], id: undefined };
      return;
    }
    if (l.startsWith(':')) return; // ": ok", ": hb"
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') ev.data.push(value);
    else if (field === 'event') ev.event = value;
    else if (field === 'id') ev.id = value;
  };
  return (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const len = buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1;
      line(buf.slice(0, nl));
      buf = buf.slice(nl + len);
    }
  };
}

// ---- transports: open(sub, handlers) -> { close() } ------------------------------------------
// handlers.open(): the transport works; handlers.envelope(obj): a message or gap object;
// handlers.fail(reason): it ended (the subscription decides what comes next). Each calls fail
// at most once and nothing after it.

function openWebSocket(sub, h) {
  const WS = sub.client.options.WebSocket ?? globalThis.WebSocket;
  if (!WS) throw new Error('no WebSocket implementation (Node 20: pass options.WebSocket)');
  const url = new URL(sub.url({ envelope: '1', presence: sub.options.presence }));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (sub.token) url.searchParams.set(sub.client.options.tokenParam, sub.token);
  const ws = new WS(url.href);
  let done = false;
  const fail = (why) => {
    if (done) return;
    done = true;
    try { ws.close(); } catch { /* already closed */ }
    h.fail(why);
  };
  ws.onopen = () => h.open();
  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') return; // envelope=1: every message is a text frame
    let obj;
    try {
      obj = JSON.parse(e.data);
    } catch {
      return fail(new Error('not an envelope'));
    }
    h.envelope(obj);
  };
  ws.onerror = () => fail(new Error('websocket error'));
  ws.onclose = (e) => fail(new Error(`websocket closed ${e.code}`));
  return { close: () => { done = true; try { ws.close(); } catch { /* closed */ } } };
}

function authHeaders(sub, extra = {}) {
  return sub.token ? { ...extra, authorization: `Bearer ${sub.token}` } : extra;
}

// The state both fetch transports keep: one AbortController, and `fail` reported once (a
// close() or an earlier failure silences later ones).
function fetchRun(h) {
  const run = { ctl: new AbortController(), done: false };
  run.fail = (why) => {
    if (run.done) return;
    run.done = true;
    run.ctl.abort();
    h.fail(why);
  };
  run.close = () => { run.done = true; run.ctl.abort(); };
  return run;
}

function openSse(sub, h) {
  const run = fetchRun(h);
  const { ctl, fail } = run;
  (async () => {
    const res = await sub.client.fetch(sub.url({ envelope: '1' }), {
      headers: authHeaders(sub, { accept: 'text/event-stream' }), signal: ctl.signal,
      cache: 'no-store',
    });
    if (res.status !== 200 || !/^text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
      return fail(new Error(`sse: HTTP ${res.status}`));
    }
    h.open();
    const parse = sseParser((ev) => {
      try {
        h.envelope(JSON.parse(ev.data));
      } catch {
        fail(new Error('sse: not an envelope'));
      }
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end || run.done) break;
      parse(value);
    }
    fail(new Error('sse: stream ended'));
  })().catch((e) => fail(e));
  return { close: run.close };
}

function openLongPoll(sub, h) {
  const run = fetchRun(h);
  const { ctl, fail } = run;
  // Open at once: the probe just reached the server, and a poll may wait its whole timeout.
  queueMicrotask(() => {
    if (!run.done) h.open();
  });
  (async () => {
    while (!run.done) {
      const res = await sub.client.fetch(sub.url({ timeout: String(sub.client.options.pollTimeout) }), {
        headers: authHeaders(sub), signal: ctl.signal, cache: 'no-store',
      });
      if (res.status !== 200 && res.status !== 304) return fail(new Error(`long poll: HTTP ${res.status}`));
      if (res.status === 304) continue;
      const env = await envelopeOf(res, sub.topic);
      const lost = Number(res.headers.get('x-lost') ?? 0);
      if (lost > 0) {
        const from = Number(res.headers.get('x-lost-from'));
        h.envelope({ type: 'gap', topic: env.topic, from, to: from + lost - 1, lost });
      }
      h.envelope(env);
    }
  })().catch((e) => fail(e));
  return { close: run.close };
}

const TRANSPORTS = { websocket: openWebSocket, sse: openSse, longpoll: openLongPoll };

/** One topic followed over the best transport that works. Made by Client.subscribe. */
export class Subscription extends Emitter {
  #transport = null;
  #timer = null;
  #index = 0; // the transport tried now
  #working = 0; // the last transport that opened
  #failedInRound = 0; // transports that failed before opening since the last open
  #attempt = 0; // reconnects since the last open (backoff)
  #opened = false; // the current transport opened
  #everOpened = false;
  #told = null; // the transport of the last 'state' event
  #lastOf = new Map(); // pattern subscriptions: topic -> the last id delivered on it

  constructor(client, topic, options = {}) {
    super();
    this.client = client;
    this.topic = topic;
    this.options = options;
    /** The last id handed to 'message' or covered by a 'gap' (undefined: none yet). */
    /** A pattern (news.*, sys.>) spans topics whose ids are independent: live only, and the
     * once-in-order check is per topic (#lastOf); lastId stays undefined. */
    this.pattern = /[*>]/.test(topic);
    this.lastId = options.since === undefined || this.pattern ? undefined : Number(options.since);
    this.state = 'idle';
    this.transport = null;
    this.token = null;
    this.order = (options.transports ?? client.options.transports).filter((t) => t in TRANSPORTS);
    queueMicrotask(() => this.#connect());
  }

  /** GET /sub/{topic} with ?since= the last id and the given parameters. */
  url(params = {}) {
    const u = new URL(`${this.client.url}/sub/${encodeURIComponent(this.topic)}`);
    if (this.lastId !== undefined) u.searchParams.set('since', String(this.lastId));
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null) u.searchParams.set(k, v);
    }
    return u.href;
  }

  /** Publishes on this subscription's topic (POST /pub/{topic}). */
  publish(data, options) {
    return this.client.publish(this.topic, data, options);
  }

  /** Stops for good: no event follows. */
  close() {
    clearTimeout(this.#timer);
    this.#transport?.close();
    this.#transport = null;
    this.#setState('closed');
  }

  #setState(state) {
    // Once per change of state or of the transport being tried ('open' after every connect).
    if (this.state === state && this.#told === this.transport && state !== 'open') return;
    this.state = state;
    this.#told = this.transport;
    this.emit('state', { state, transport: this.transport, lastId: this.lastId });
  }

  async #connect() {
    if (this.state === 'closed') return;
    const kind = this.order[this.#index];
    this.transport = kind;
    this.#opened = false;
    this.#setState(this.#everOpened ? 'reconnecting' : 'connecting');
    try {
      this.token = this.client.options.token ? await this.client.options.token() : null;
    } catch (e) {
      return this.#failed(e);
    }
    if (this.state === 'closed') return;
    try {
      await this.#probe();
    } catch (e) {
      return this.#failed(e);
    }
    if (this.state === 'closed') return;
    let t;
    const openTimer = setTimeout(() => t?.fail(), this.client.options.openTimeout);
    const handlers = {
      open: () => {
        if (t !== this.#transport) return;
        clearTimeout(openTimer);
        this.#opened = true;
        this.#everOpened = true;
        this.#working = this.#index;
        this.#failedInRound = 0;
        this.#attempt = 0;
        this.#setState('open');
      },
      envelope: (obj) => {
        if (t === this.#transport) this.#deliver(obj);
      },
      fail: (why) => {
        clearTimeout(openTimer);
        if (t === this.#transport) this.#failed(why);
      },
    };
    try {
      t = TRANSPORTS[kind](this, handlers);
    } catch (e) {
      clearTimeout(openTimer);
      return this.#failed(e);
    }
    t.fail = () => {
      t.close();
      handlers.fail(new Error(`${kind}: did not open in time`));
    };
    this.#transport = t;
  }

  // GET /topics/{topic} before each connect (literal topics): the server is reachable (else the
  // round fails and backs off), and its newest id tells whether it still has what this client
  // saw. Below lastId it lost its history (a restart): say so with a reset gap, then take all it
  // has now (since=0) instead of waiting past an id it will not reach for a while.
  async #probe() {
    if (this.pattern) return;
    const res = await this.client.fetch(`${this.client.url}/topics/${encodeURIComponent(this.topic)}`, {
      headers: authHeaders(this), cache: 'no-store',
    });
    if (res.status === 404) return; // a server without the short-poll API: nothing to learn
    if (!res.ok) throw new Error(`GET /topics: HTTP ${res.status}`);
    const info = await res.json();
    const head = Number(info.last_id);
    if (this.lastId !== undefined && Number.isFinite(head) && head < this.lastId) {
      this.emit('gap', { topic: this.topic, from: this.lastId + 1, to: this.lastId, lost: null,
        reset: true, previous: this.lastId });
      this.lastId = 0;
    }
  }

  #failed(why) {
    this.#transport?.close();
    this.#transport = null;
    if (this.state === 'closed') return;
    this.emit('error', why);
    if (!this.#opened) {
      // It never worked this time: try the next transport now, unless all of them just failed
      // (then it is the server or the network: wait, and start again where it last worked).
      this.#failedInRound += 1;
      if (this.#failedInRound < this.order.length) {
        this.#index = (this.#index + 1) % this.order.length;
        this.#timer = setTimeout(() => this.#connect(), 0);
        return;
      }
      this.#failedInRound = 0;
      this.#index = this.#working;
    }
    this.#setState(this.#everOpened ? 'reconnecting' : 'connecting');
    const delay = backoff(this.#attempt++, this.client.options.minDelay, this.client.options.maxDelay);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #deliver(obj) {
    // The id sequence this message belongs to: the subscription's, or its topic's on a pattern.
    const topic = obj.topic ?? this.topic;
    const last = this.pattern ? this.#lastOf.get(topic) : this.lastId;
    const advance = (id) => {
      if (this.pattern) this.#lastOf.set(topic, id);
      else this.lastId = id;
    };
    if (obj.type === 'gap') {
      const to = Number(obj.to);
      if (last !== undefined && to <= last) return; // already covered
      advance(to);
      this.emit('gap', { topic, from: Number(obj.from), to, lost: Number(obj.lost) });
      return;
    }
    if (obj.type !== 'message') return;
    const id = Number(obj.id);
    if (last !== undefined) {
      if (id === last) return; // a duplicate (resume overlap)
      if (id < last) {
        // The ids restarted: the server came back without the history the client had seen.
        this.emit('gap', { topic, from: last + 1, to: last, lost: null, reset: true, previous: last });
      } else if (id > last + 1) {
        this.emit('gap', { topic, from: last + 1, to: id - 1, lost: id - last - 1 });
      }
    }
    advance(id);
    const m = { id, topic, time: obj.time, contentType: obj.content_type, data: obj.data };
    if (obj.encoding) m.encoding = obj.encoding;
    const d = obj.data;
    if (d && typeof d === 'object' && (d.type === 'join' || d.type === 'leave') && typeof d.name === 'string') {
      this.emit('presence', { type: d.type, name: d.name, id });
      return;
    }
    this.emit('message', m);
  }
}

/** The server at `url` (http:// or https://, no path). */
export class Client {
  constructor(url, options = {}) {
    this.url = String(url).replace(/\/+$/, '');
    this.options = { ...DEFAULTS, ...options };
    this.fetch = options.fetch ?? ((...a) => globalThis.fetch(...a));
  }

  /**
   * Follows `topic` (a literal topic resumes; a pattern such as news.* is live only).
   * options.since: resume after this id (0: everything the server still has).
   * options.presence: a name announced as join/leave on the topic (WebSocket only).
   * options.transports: the order to try, a subset of ['websocket', 'sse', 'longpoll'].
   */
  subscribe(topic, options = {}) {
    return new Subscription(this, topic, options);
  }

  /**
   * POST /pub/{topic}: a string goes as text/plain, an ArrayBuffer or typed array as
   * application/octet-stream, anything else as JSON. Resolves { id, subscribers }; rejects with
   * the server's error (status, message) otherwise.
   */
  async publish(topic, data, options = {}) {
    let body = data;
    let type = options.contentType;
    if (typeof data === 'string') type ??= 'text/plain; charset=utf-8';
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) type ??= 'application/octet-stream';
    else {
      body = JSON.stringify(data);
      type ??= 'application/json';
    }
    const token = this.options.token ? await this.options.token() : null;
    const headers = { 'content-type': type };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await this.fetch(`${this.url}/pub/${encodeURIComponent(topic)}`, {
      method: 'POST', headers, body,
    });
    const text = await res.text();
    let obj;
    try {
      obj = JSON.parse(text);
    } catch {
      obj = { error: text };
    }
    if (!res.ok) {
      const err = new Error(obj.error ?? `HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return obj;
  }
}
