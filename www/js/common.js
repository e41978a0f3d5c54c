// Small helpers shared by the demo pages (plain ES modules, no build step). Subscribing,
// reconnecting and resuming are @switchyard/client's (/lib/switchyard-client/index.js).

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

/** Sets a status badge's text and state (data-state drives the colour in style.css). */
export function setStatus(node, state, text) {
  node.dataset.state = state;
  node.textContent = text;
}
