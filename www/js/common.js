// Small helpers shared by the demo pages (plain ES modules, no build step).

/** Creates an element: el('li', {class: 'x', dataset: {id: 1}}, 'text', child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** ws:// or wss:// URL for a path on the page's own origin. */
export function wsUrl(pathAndQuery) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${pathAndQuery}`;
}

/** Topic names are dot-separated tokens; keep what the user types to a safe alphabet. */
export function cleanToken(s, fallback) {
  const t = String(s).trim().replace(/[^A-Za-z0-9_-]/g, '');
  return t || fallback;
}

/** Parses JSON, returning undefined instead of throwing. */
export function tryJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function clock(date = new Date()) {
  return date.toLocaleTimeString([], { hour12: false });
}

/** Reconnect delay: 250 ms doubling to 5 s, with jitter so many tabs do not stampede. */
export function backoff(attempt) {
  const base = Math.min(5000, 250 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

/** Sets a status badge's text and state (data-state drives the colour in style.css). */
export function setStatus(node, state, text) {
  node.dataset.state = state;
  node.textContent = text;
}

/**
 * The payload of a hub envelope as a value: the gateway embeds JSON payloads as JSON values and
 * other text as a string (binary: a base64 string with "encoding":"base64"). A string that holds
 * JSON is parsed too, so either publisher style works.
 */
export function envelopeValue(f) {
  if (typeof f.data !== 'string') return f.data;
  if (f.encoding === 'base64') return undefined;
  return tryJson(f.data);
}

/** The payload of a hub envelope as display text. */
export function envelopeText(f) {
  if (typeof f.data === 'string') return f.encoding === 'base64' ? `(binary, base64) ${f.data}` : f.data;
  return JSON.stringify(f.data);
}
