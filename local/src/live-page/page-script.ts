/**
 * The live page's script, run in the browser: polls `/api/live` every second with the token it was opened with (as a
 * bearer header) and redraws the flow, the charts and the tables. Plain DOM and SVG; data goes in as textContent.
 */
export const PAGE_SCRIPT = String.raw`
'use strict';
const token = new URLSearchParams(location.search).get('token') || '';
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const fmt = (n) => n === null || n === undefined ? '–' : Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
const secs = (ms) => ms === null || ms === undefined ? '' : ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(1) + ' s';
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

function drawFlow(stages) {
  const flow = $('flow');
  if (flow.childElementCount === 0) {
    stages.forEach((s, i) => {
      if (i > 0) flow.appendChild(el('div', 'arrow', '→'));
      const box = el('div', 'stage'); box.id = 'stage-' + s.key;
      box.append(el('h2', '', s.label), el('div', 'count'), el('div', 'unit'), el('div', 'rate'), el('div', 'lag'), el('div', 'detail'));
      flow.appendChild(box);
    });
  }
  for (const s of stages) {
    const box = $('stage-' + s.key);
    box.querySelector('.count').textContent = fmt(s.count);
    box.querySelector('.unit').textContent = s.unit;
    box.querySelector('.rate').textContent = s.rate === null ? '' : fmt(s.rate) + '/s';
    box.querySelector('.lag').textContent = s.lagMs === null ? '' : s.lagLabel + ' ' + secs(s.lagMs);
    box.querySelector('.detail').textContent = s.detail;
  }
}

function svgEl(tag, attrs) { const e = document.createElementNS(SVG, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }

/** Draws lines of [t, value] series on a 600x180 chart with a time axis of the last windowMs. */
function chart(svg, series, now, windowMs, unit) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = 600, H = 180, L = 40, B = 16;
  const max = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (t) => L + ((t - (now - windowMs)) / windowMs) * (W - L - 4);
  const y = (v) => H - B - (v / max) * (H - B - 8);
  for (const f of [0, 0.5, 1]) {
    svg.appendChild(svgEl('line', { x1: L, x2: W, y1: y(max * f), y2: y(max * f), stroke: '#2a3a4a' }));
    const label = svgEl('text', { x: 2, y: y(max * f) + 4, fill: '#8da2b5', 'font-size': 10 }); label.textContent = fmt(max * f) + unit; svg.appendChild(label);
  }
  for (const m of [1, 2, 3, 4]) {
    const t = svgEl('text', { x: x(now - m * 60000) - 8, y: H - 2, fill: '#8da2b5', 'font-size': 10 }); t.textContent = '-' + m + 'm'; svg.appendChild(t);
  }
  for (const s of series) {
    const pts = s.points.filter((p) => p[0] >= now - windowMs);
    if (pts.length === 0) continue;
    if (s.dots) for (const p of pts) svg.appendChild(svgEl('circle', { cx: x(p[0]), cy: y(p[1]), r: 2.5, fill: s.color }));
    else svg.appendChild(svgEl('polyline', { points: pts.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 1.5 }));
  }
}

function fillTable(id, rows) {
  const body = $(id).querySelector('tbody');
  while (body.firstChild) body.removeChild(body.firstChild);
  for (const cells of rows) {
    const tr = el('tr');
    for (const [cls, text] of cells) tr.appendChild(el('td', cls, text));
    body.appendChild(tr);
  }
}

function render(d) {
  drawFlow(d.stages);
  const windowMs = 5 * 60000;
  chart($('throughput'), [
    { color: '#4cc9f0', points: d.rates.map((p) => [p.t, p.captured]) },
    { color: '#90be6d', points: d.rates.map((p) => [p.t, p.loaded]) },
    { color: '#f8961e', points: d.rates.map((p) => [p.t, p.merged]) },
  ], d.takenAt, windowMs, '');
  chart($('freshness'), [
    { color: '#f94144', points: d.rates.map((p) => [p.t, p.lagSeconds]) },
    { color: '#90be6d', dots: true, points: d.mergeRuns.map((r) => [r.t, r.freshness.p50Ms / 1000]) },
    { color: '#f8961e', dots: true, points: d.mergeRuns.map((r) => [r.t, r.freshness.p99Ms / 1000]) },
  ], d.takenAt, windowMs, 's');
  const f = d.freshness;
  $('fresh-summary').textContent = f ? 'last minute: p50 ' + secs(f.p50Ms) + ' · p99 ' + secs(f.p99Ms) + ' · max ' + secs(f.maxMs) + (f.estimated ? ' (≈ oldest event per merge)' : '') : 'last minute: no merge';
  const total = d.destinationByStatus.reduce((s, r) => s + r.count, 0) || 1;
  fillTable('by-status', d.destinationByStatus.map((r) => [['', r.status], ['n', fmt(r.count)], ['n', (100 * r.count / total).toFixed(1) + ' %']]));
  fillTable('quarantine', d.quarantine.byReason.length === 0 ? [[['', 'nothing quarantined']]] :
    d.quarantine.byReason.map((q) => [['', q.reason], ['n', fmt(q.count)], ['ids', q.ids.join(' ')]]));
  const q = d.queues;
  $('queues').textContent = 'queues: load ' + fmt(q.load) + ' · load DLQ ' + fmt(q.loadDlq) + ' · quarantine ' + fmt(q.quarantine) + ' · transform on-failure ' + fmt(q.transformFailure);
  $('updated').textContent = 'updated ' + new Date(d.takenAt).toLocaleTimeString();
  $('error').textContent = d.error ? 'status: ' + d.error : '';
}

async function poll() {
  try {
    const res = await fetch('/api/live', { headers: { authorization: 'Bearer ' + token }, cache: 'no-store' });
    if (res.status === 503) { $('updated').textContent = 'waiting for the first status…'; return; }
    if (!res.ok) throw new Error('the stack answered ' + res.status);
    render(await res.json());
  } catch (e) {
    $('error').textContent = 'cannot reach the stack: ' + e.message;
  } finally {
    setTimeout(poll, 1000);
  }
}
poll();
`;
