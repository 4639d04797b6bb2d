/**
 * The live page: one HTML document with its style and script inline (no build step, no CDN, nothing to fetch but
 * `/api/live`). Charts are plain SVG. The script writes data with textContent only, never as HTML.
 */
import { PAGE_SCRIPT } from './page-script';

const STYLE = `
:root { --bg:#0f1720; --panel:#17212b; --line:#2a3a4a; --text:#e6edf3; --dim:#8da2b5; --a:#4cc9f0; --b:#f8961e; --c:#90be6d; --d:#f94144; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; gap:1rem; align-items:baseline; padding:.8rem 1.2rem; border-bottom:1px solid var(--line); }
header h1 { font-size:1.1rem; margin:0; }
#updated { color:var(--dim); } #error { color:var(--d); }
main { padding:1rem 1.2rem; display:grid; gap:1rem; }
.flow { display:flex; align-items:stretch; gap:.3rem; overflow-x:auto; }
.stage { flex:1 1 0; min-width:118px; background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:.5rem .6rem; }
.stage h2 { margin:0; font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--dim); }
.stage .count { font-size:1.6rem; font-variant-numeric:tabular-nums; }
.stage .unit, .stage .detail { font-size:.75rem; color:var(--dim); }
.stage .rate { color:var(--c); font-variant-numeric:tabular-nums; } .stage .lag { color:var(--b); font-variant-numeric:tabular-nums; }
.arrow { align-self:center; color:var(--dim); }
.row { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:1rem; }
section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:.6rem .8rem; }
section h3 { margin:0 0 .4rem; font-size:.9rem; }
svg { width:100%; height:180px; display:block; }
.legend span { margin-right:1rem; font-size:.8rem; } .legend i { display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle; }
table { border-collapse:collapse; width:100%; font-size:.85rem; } td, th { text-align:left; padding:.2rem .4rem; border-bottom:1px solid var(--line); vertical-align:top; }
td.n { text-align:right; font-variant-numeric:tabular-nums; } .ids { color:var(--dim); font-family:ui-monospace, monospace; font-size:.75rem; }
.hint { color:var(--dim); font-size:.8rem; }
.ka { background:var(--a); } .kb { background:var(--b); } .kc { background:var(--c); } .kd { background:var(--d); }
`;

/** The page, with `nonce` on its inline style and script (the server's Content-Security-Policy allows only those). */
export const pageHtml = (nonce: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>claims-cdc · live pipeline</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>claims-cdc · live pipeline</h1><span id="updated">waiting for the first status…</span><span id="error"></span></header>
<main>
  <div class="flow" id="flow"></div>
  <div class="row">
    <section><h3>Throughput (events/s, last minutes)</h3><svg id="throughput" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="throughput chart"></svg>
      <div class="legend"><span><i class="ka"></i>captured</span><span><i class="kc"></i>loaded</span><span><i class="kb"></i>merged</span></div></section>
    <section><h3>Freshness (s): write in DynamoDB → row in the destination</h3><svg id="freshness" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="freshness chart"></svg>
      <div class="legend"><span><i class="kc"></i>p50 per merge</span><span><i class="kb"></i>p99 per merge</span><span><i class="kd"></i>lag now</span><span id="fresh-summary"></span></div></section>
  </div>
  <div class="row">
    <section><h3>Destination by claim status</h3><table id="by-status"><tbody></tbody></table></section>
    <section><h3>Quarantine by reason <span class="hint">(ids only; details: claims-cdc quarantine list)</span></h3><table id="quarantine"><tbody></tbody></table>
      <p class="hint" id="queues"></p></section>
  </div>
</main>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
