// The live dashboard: one subscription on the server's own topics (sys.>, each message names
// its topic) with @switchyard/client over SSE (the transport the management listener serves),
// which reconnects by itself; sys.stats into charts and headline figures, the other sys.*
// topics into tables. Same-origin URLs only (main port or management listener).
import { Client } from '/lib/switchyard-client/index.js';
import { TimeChart, compact } from './chart.js';
import { setStatus, clock, tryJson } from './common.js';
import { renderListeners, renderTopics, renderQueues, renderConnections, wireActions } from './admin_tables.js';

const $ = (id) => document.getElementById(id);

/** What the tests read: samples seen, the last sys.stats, and which tables have data. */
const state = { ticks: 0, last: null, topics: {}, connects: 0 };
window.adminState = state;

const ms = (v) => `${compact(v)} ms`;
const charts = {
  conns: new TimeChart($('c-conns'), $('l-conns')),
  req: new TimeChart($('c-req'), $('l-req')),
  msg: new TimeChart($('c-msg'), $('l-msg')),
  amqp: new TimeChart($('c-amqp'), $('l-amqp')),
  accq: new TimeChart($('c-accq'), $('l-accq')),
  ovf: new TimeChart($('c-ovf'), $('l-ovf')),
  lag: new TimeChart($('c-lag'), $('l-lag'), { format: compact, unit: ' ms' }),
  busy: new TimeChart($('c-busy'), $('l-busy'), { format: compact, unit: '%', minMax: 10 }),
};
for (const p of ['http', 'websocket', 'sse', 'amqp']) charts.conns.ensure(p);
charts.req.ensure('requests/s');
charts.msg.ensure('publishes/s');
charts.msg.ensure('deliveries/s');
charts.amqp.ensure('ready');
charts.amqp.ensure('unacked');
charts.ovf.ensure('overflows/s', { color: '#b42318' });

function kpi(id, value, sub = '') {
  const v = $(id);
  if (v.textContent !== value) v.textContent = value;
  $(`${id}-s`).textContent = sub;
}

function onStats(s, t) {
  const c = s.connections || {};
  charts.conns.push(t, { http: c.http, websocket: c.websocket, sse: c.sse, amqp: c.amqp });
  charts.req.push(t, { 'requests/s': s.requests_per_s });
  charts.msg.push(t, { 'publishes/s': s.publishes_per_s, 'deliveries/s': s.deliveries_per_s });
  charts.amqp.push(t, { ready: s.amqp?.ready, unacked: s.amqp?.unacked });
  const accq = {};
  for (const l of s.listeners || []) {
    const name = `${l.scheme} ${l.address}`;
    charts.accq.ensure(name);
    charts.accq.ensure(`${name} limit`, { dash: true, color: charts.accq.series.get(name).color });
    accq[name] = l.accept_queue_depth;
    accq[`${name} limit`] = l.accept_queue_limit;
  }
  charts.accq.push(t, accq);
  charts.ovf.push(t, { 'overflows/s': s.listen_overflows_per_s });
  const lag = {}, busy = {};
  for (const l of s.loops || []) {
    lag[`loop ${l.loop}`] = l.lag_ms;
    busy[`loop ${l.loop}`] = 100 * l.busy;
  }
  charts.lag.push(t, lag);
  charts.busy.push(t, busy);
  headline(s);
  renderListeners(s);
  requestAnimationFrame(() => Object.values(charts).forEach((ch) => ch.draw()));
}

function headline(s) {
  const c = s.connections || {};
  kpi('k-conns', compact(c.open ?? 0), `http ${c.http ?? 0} · ws ${c.websocket ?? 0} · sse ${c.sse ?? 0} · amqp ${c.amqp ?? 0}`);
  kpi('k-req', compact(s.requests_per_s ?? 0), `${compact(s.totals?.requests ?? 0)} total`);
  kpi('k-pub', compact(s.publishes_per_s ?? 0), `${compact(s.totals?.publishes ?? 0)} total`);
  kpi('k-del', compact(s.deliveries_per_s ?? 0), `${compact(s.totals?.deliveries ?? 0)} total`);
  kpi('k-amqp', `${compact(s.amqp?.ready ?? 0)} / ${compact(s.amqp?.unacked ?? 0)}`,
    `${s.amqp?.consumers ?? 0} consumer(s) · ${s.amqp?.channels ?? 0} channel(s)`);
  const ls = s.listeners || [];
  const depth = ls.reduce((a, l) => a + l.accept_queue_depth, 0);
  const limit = ls.reduce((a, l) => a + l.accept_queue_limit, 0);
  kpi('k-accq', compact(depth), `of ${compact(limit)} · ${compact(s.listen_overflows_per_s ?? 0)} overflows/s`);
  const lags = (s.loops || []).map((l) => l.lag_ms);
  kpi('k-lag', ms(lags.length ? Math.max(...lags) : 0), `${s.loops?.length ?? 0} loop(s)`);
  $('updated').textContent = `updated ${clock(new Date(s.time_ms || Date.now()))}`;
}

const tables = { 'sys.topics': renderTopics, 'sys.queues': renderQueues, 'sys.connections': renderConnections };

// A message of sys.>: its payload is JSON (the server's own figures), as a value or as text.
function onMessage(f) {
  const v = typeof f.data === 'string' ? tryJson(f.data) : f.data;
  if (!v || typeof v !== 'object') return;
  state.topics[f.topic] = (state.topics[f.topic] || 0) + 1;
  if (f.topic === 'sys.stats') {
    state.ticks++;
    state.last = v;
    onStats(v, f.time || Date.now());
  } else if (tables[f.topic]) {
    tables[f.topic](v);
  }
}

function connect() {
  // sys.>: every system topic on one stream, live only (a pattern has no history to resume).
  const sub = new Client(location.origin, { transports: ['sse'] }).subscribe('sys.>');
  sub.on('message', onMessage);
  sub.on('state', ({ state: st }) => {
    if (st === 'open') {
      state.connects++;
      setStatus($('status'), 'open', 'live');
    } else if (st === 'reconnecting') {
      setStatus($('status'), 'retry', 'reconnecting');
    } else if (st === 'connecting') {
      setStatus($('status'), 'connecting', 'connecting');
    }
  });
}

// Stats off (management.stats_interval_ms = 0) or a server without them: say so rather than
// show dashes with no explanation.
setTimeout(() => {
  if (!state.ticks) $('updated').textContent = 'no sys.stats yet (off when management.stats_interval_ms = 0)';
}, 5000);
addEventListener('resize', () => Object.values(charts).forEach((ch) => ch.draw()));
wireActions();
connect();
