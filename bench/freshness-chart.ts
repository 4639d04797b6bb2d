/** The freshness chart (percentiles of write→destination delay against write rate), as hand-written SVG. */
import type { FreshnessPoint } from './results';

const WIDTH = 720;
const HEIGHT = 420;
const PAD = { left: 64, right: 180, top: 48, bottom: 56 };
const SERIES = [
  { key: 'p50', colour: '#1f77b4' },
  { key: 'p95', colour: '#ff7f0e' },
  { key: 'p99', colour: '#d62728' },
] as const;
const PATHS = [
  { path: 'dynamodb', dash: '', marker: 'circle', label: 'written to DynamoDB' },
  { path: 'stream', dash: '6 4', marker: 'square', label: 'put on the stream' },
] as const;

const marker = (shape: 'circle' | 'square', cx: number, cy: number, colour: string, title = ''): string => {
  const tip = title ? `<title>${escape(title)}</title>` : '';
  return shape === 'circle'
    ? `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="3.5" fill="${colour}">${tip}</circle>`
    : `<rect x="${(cx - 3.5).toFixed(1)}" y="${(cy - 3.5).toFixed(1)}" width="7" height="7" fill="${colour}">${tip}</rect>`;
};

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" axis maximum and step for values up to `max`. */
const niceScale = (max: number, ticks = 5): { top: number; step: number } => {
  const raw = Math.max(max, 1e-9) / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  return { top: Math.ceil(max / step) * step, step };
};

/**
 * Renders the chart. x: the write rate actually achieved (events/s), y: seconds from the write to the row in the
 * destination. Solid lines: writes through DynamoDB; dashed: records put straight on the stream. The p99 goal and
 * the rate it applies at are drawn as reference lines.
 */
export const freshnessSvg = (points: readonly FreshnessPoint[], goal: { p99Seconds: number; rate: number }, subtitle: string): string => {
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${PAD.left}" y="22" font-size="15" font-weight="bold">Freshness: DynamoDB write → row in the destination</text>`);
  out.push(`<text x="${PAD.left}" y="38" fill="#555">${escape(subtitle)}</text>`);
  const usable = points.filter((p) => p.p99 !== null);
  if (usable.length === 0) {
    out.push(`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" fill="#555">not measured (see bench/results.md)</text>`);
    out.push('</svg>');
    return `${out.join('\n')}\n`;
  }
  const x = niceScale(1.08 * Math.max(goal.rate, ...usable.map((p) => p.achievedRate)));
  const y = niceScale(1.08 * Math.max(goal.p99Seconds, ...usable.map((p) => p.p99 ?? 0)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const sx = (v: number): number => PAD.left + (v / x.top) * plotW;
  const sy = (v: number): number => PAD.top + plotH - (v / y.top) * plotH;

  for (let v = 0; v <= y.top + 1e-9; v += y.step) {
    out.push(`<line x1="${PAD.left}" y1="${sy(v).toFixed(1)}" x2="${PAD.left + plotW}" y2="${sy(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${PAD.left - 8}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${Number(v.toFixed(2))}</text>`);
  }
  for (let v = 0; v <= x.top + 1e-9; v += x.step) {
    out.push(`<line x1="${sx(v).toFixed(1)}" y1="${PAD.top + plotH}" x2="${sx(v).toFixed(1)}" y2="${PAD.top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${sx(v).toFixed(1)}" y="${PAD.top + plotH + 18}" text-anchor="middle">${Math.round(v).toLocaleString('en-US')}</text>`);
  }
  out.push(`<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${PAD.left + plotW}" y2="${PAD.top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">write rate achieved (events/s)</text>`);
  out.push(`<text transform="translate(18 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">delay (s)</text>`);

  // Goal: p99 at most goal.p99Seconds at goal.rate.
  out.push(`<line x1="${PAD.left}" y1="${sy(goal.p99Seconds).toFixed(1)}" x2="${PAD.left + plotW}" y2="${sy(goal.p99Seconds).toFixed(1)}" stroke="#2ca02c" stroke-dasharray="2 3"/>`);
  out.push(`<text x="${PAD.left + plotW - 4}" y="${(sy(goal.p99Seconds) - 5).toFixed(1)}" text-anchor="end" fill="#2ca02c">goal: p99 ≤ ${goal.p99Seconds} s</text>`);
  out.push(`<line x1="${sx(goal.rate).toFixed(1)}" y1="${PAD.top}" x2="${sx(goal.rate).toFixed(1)}" y2="${PAD.top + plotH}" stroke="#2ca02c" stroke-dasharray="2 3"/>`);
  out.push(`<text x="${(sx(goal.rate) - 4).toFixed(1)}" y="${PAD.top + plotH - 6}" text-anchor="end" fill="#2ca02c">${goal.rate.toLocaleString('en-US')}/s = one shard</text>`);

  for (const { path, dash, marker: shape } of PATHS) {
    const series = usable.filter((p) => p.path === path).sort((a, b) => a.achievedRate - b.achievedRate);
    if (series.length === 0) continue;
    for (const { key, colour } of SERIES) {
      const coords = series.map((p) => `${sx(p.achievedRate).toFixed(1)},${sy(p[key] ?? 0).toFixed(1)}`);
      out.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
      for (const p of series) out.push(marker(shape, sx(p.achievedRate), sy(p[key] ?? 0), colour, `${path} @ ${Math.round(p.achievedRate)}/s: ${key} ${(p[key] ?? 0).toFixed(2)} s`));
    }
  }

  let ly = PAD.top + 8;
  const lx = WIDTH - PAD.right + 16;
  for (const { key, colour } of SERIES) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${colour}" stroke-width="2"/><text x="${lx + 30}" y="${ly + 4}">${key}</text>`);
    ly += 18;
  }
  ly += 6;
  for (const { dash, label, marker: shape } of PATHS) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="#333" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(marker(shape, lx + 12, ly, '#333'));
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${escape(label)}</text>`);
    ly += 18;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
};
