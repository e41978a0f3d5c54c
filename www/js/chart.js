// A small time-series chart on a <canvas>: a sliding window (5 minutes by default) of named
// series, one point per sample, lines with a light fill, a y axis scaled to a "nice" maximum,
// minute marks on the x axis, and an HTML legend with each series' latest value. Written for
// the dashboard (one sample a second, a few series per chart); no dependencies.

const PALETTE = ['#0b6bcb', '#1a7f37', '#c2410c', '#7c3aed', '#b42318', '#0e7490', '#a16207', '#be185d'];

/** 1234 -> "1.23k"; small values keep two significant decimals. */
export function compact(v) {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(a >= 1e10 ? 1 : 2)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** The smallest of 1, 2, 2.5, 5 x 10^k that is >= v (an axis maximum). */
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export class TimeChart {
  /**
   * canvas: the <canvas>; legend: a <ul> for the legend (or null).
   * opts.windowMs (default 300000), opts.format (value -> text), opts.unit (appended in the
   * legend), opts.minMax (the y axis never shrinks below this).
   */
  constructor(canvas, legend, opts = {}) {
    this.canvas = canvas;
    this.legend = legend;
    this.windowMs = opts.windowMs ?? 300000;
    this.format = opts.format ?? compact;
    this.unit = opts.unit ?? '';
    this.minMax = opts.minMax ?? 1;
    this.series = new Map(); // name -> {color, dash, points: [[t, v]], legendItem}
    this.now = 0;
  }

  /** Declares a series (idempotent); opts.dash draws it dashed (limits), opts.fill=false. */
  ensure(name, opts = {}) {
    let s = this.series.get(name);
    if (s) return s;
    s = {
      color: opts.color ?? PALETTE[this.series.size % PALETTE.length],
      dash: opts.dash ?? false,
      fill: opts.fill ?? !opts.dash,
      points: [],
      item: null,
    };
    this.series.set(name, s);
    if (this.legend) {
      const li = document.createElement('li');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = s.color;
      sw.style.color = s.color;
      if (s.dash) sw.classList.add('dashed');
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = name;
      const val = document.createElement('span');
      val.className = 'value';
      li.append(sw, label, val);
      this.legend.append(li);
      s.item = val;
    }
    return s;
  }

  /** Adds one sample at time t (ms) for each named value; old points slide out. */
  push(t, values) {
    this.now = t;
    for (const [name, v] of Object.entries(values)) {
      const s = this.ensure(name);
      s.points.push([t, Number(v) || 0]);
    }
    const cut = t - this.windowMs;
    for (const s of this.series.values()) {
      let drop = 0;
      while (drop < s.points.length && s.points[drop][0] < cut) drop++;
      if (drop) s.points.splice(0, drop);
      if (s.item) {
        const last = s.points.length ? s.points[s.points.length - 1][1] : NaN;
        s.item.textContent = `${this.format(last)}${this.unit}`;
      }
    }
  }

  /** Repaints (call once per sample; cheap: a few hundred points). */
  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    let max = 0;
    for (const s of this.series.values()) for (const [, v] of s.points) if (v > max) max = v;
    const top = niceCeil(Math.max(max * 1.1, this.minMax));
    const padL = 44, padR = 8, padT = 8, padB = 20;
    const pw = w - padL - padR, ph = h - padT - padB;
    // The x axis spans the data seen so far (at least 30 s) up to the window, so a page opened
    // a moment ago is not a flat line at the right edge.
    let first = Infinity;
    for (const s of this.series.values()) if (s.points.length) first = Math.min(first, s.points[0][0]);
    const t1 = this.now || Date.now();
    const span = Math.min(this.windowMs, Math.max(30000, Number.isFinite(first) ? t1 - first : 0));
    const t0 = t1 - span;
    const x = (t) => padL + ((t - t0) / span) * pw;
    const y = (v) => padT + ph - (Math.min(v, top) / top) * ph;
    this.grid(g, { padL, padT, pw, ph, top, t1, x, span });
    for (const s of this.series.values()) this.line(g, s, x, y, padT + ph);
  }

  grid(g, { padL, padT, pw, ph, top, t1, x, span }) {
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#5b6673';
    g.strokeStyle = '#e2e6ea';
    g.lineWidth = 1;
    g.textBaseline = 'middle';
    g.textAlign = 'right';
    for (let i = 0; i <= 4; i++) {
      const yy = Math.round(padT + ph - (i / 4) * ph) + 0.5;
      g.beginPath();
      g.moveTo(padL, yy);
      g.lineTo(padL + pw, yy);
      g.stroke();
      g.fillText(this.format((top * i) / 4), padL - 6, yy);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const step = [5000, 10000, 15000, 30000, 60000].find((st) => span / st <= 6) ?? 60000;
    for (let k = 0; k * step <= span; k++) {
      const xx = Math.round(x(t1 - k * step)) + 0.5;
      g.beginPath();
      g.moveTo(xx, padT);
      g.lineTo(xx, padT + ph);
      g.stroke();
      const ago = (k * step) / 1000;
      const text = k === 0 ? 'now' : ago % 60 === 0 ? `-${ago / 60}m` : `-${ago}s`;
      g.fillText(text, Math.max(padL + 10, Math.min(xx, padL + pw - 10)), padT + ph + 5);
    }
  }

  line(g, s, x, y, base) {
    const pts = s.points;
    if (!pts.length) return;
    g.beginPath();
    pts.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
    g.setLineDash(s.dash ? [5, 4] : []);
    g.strokeStyle = s.color;
    g.lineWidth = 1.75;
    g.lineJoin = 'round';
    g.stroke();
    g.setLineDash([]);
    if (!s.fill || pts.length < 2) return;
    g.lineTo(x(pts[pts.length - 1][0]), base);
    g.lineTo(x(pts[0][0]), base);
    g.closePath();
    g.globalAlpha = 0.08;
    g.fillStyle = s.color;
    g.fill();
    g.globalAlpha = 1;
  }
}
