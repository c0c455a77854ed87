// Loss curves as a self-contained SVG document, written by hand (no dependency): used for the
// demo's file, redrawn live by the browser page, and the panels of tools/slot-quality.mjs.

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** A "nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over `span`. */
function tickStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

/**
 * `series`: [{label, color, values: number[], dashed?}] (y per epoch, epoch 1 first);
 * `epochs`: the x range (the curves may be shorter while training runs). With `xPerPoint`, point
 * k stands for x = k * xPerPoint (e.g. a point per 10 steps) and `xLabel` names x.
 */
export function lossCurvesSvg(series, options = {}) {
  const { width = 720, height = 420 } = options;
  return [svgOpen(width, height), ...plotElements(series, options), '</svg>'].join('\n');
}

/**
 * Several plots in one SVG document: `panels` is [{series, ...lossCurvesSvg's options}], laid out
 * `columns` to a row (every panel of `width` x `height`).
 */
export function lossCurvesFigure(panels, { columns = 1, width = 720, height = 420 } = {}) {
  const rows = Math.ceil(panels.length / columns);
  const out = [svgOpen(columns * width, rows * height)];
  panels.forEach(({ series, ...options }, k) => {
    out.push(`<g transform="translate(${(k % columns) * width} ${Math.floor(k / columns) * height})">`);
    out.push(...plotElements(series, { ...options, width, height }));
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}

function svgOpen(width, height) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`;
}

function plotElements(series, { epochs, title = 'Training loss', width = 720, height = 420, yLabel = 'categorical cross-entropy', xLabel = 'epoch', xPerPoint = 1 } = {}) {
  const m = { left: 62, right: 20, top: 40, bottom: 48 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const xMax = Math.max(epochs ?? 1, ...series.map((s) => s.values.length), 2);
  // y starts at 0, or lower when a value is negative (a difference plotted).
  const low = Math.min(...all, 0);
  const yStep = tickStep(Math.max(...all, 0.1) - low, 5);
  const yMin = low < 0 ? Math.floor(low / yStep) * yStep : 0;
  const yMax = Math.ceil(Math.max(...all, 0.1) / yStep) * yStep;
  const x = (i) => m.left + ((i + 1 - 1) / (xMax - 1)) * w;
  const y = (v) => m.top + h - ((v - yMin) / (yMax - yMin)) * h;
  const out = [];
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`);
  // Grid and y ticks.
  for (let v = yMin; v <= yMax + 1e-9; v += yStep) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${yy}" dy="4" text-anchor="end" fill="#444">${+v.toFixed(4)}</text>`);
  }
  // x ticks (epochs, 1-based).
  const xStep = Math.max(1, tickStep(xMax, 8)); // whole points
  for (let e = 0; e <= xMax; e += xStep) {
    const ep = Math.max(1, e);
    const xx = x(ep - 1).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${m.top + h}" y2="${m.top + h + 5}" stroke="#444"/>`);
    out.push(`<text x="${xx}" y="${m.top + h + 18}" text-anchor="middle" fill="#444">${ep * xPerPoint}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${m.left + w / 2}" y="${height - 10}" text-anchor="middle" fill="#222">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.top + h / 2}) rotate(-90)" text-anchor="middle" fill="#222">${esc(yLabel)}</text>`);
  // Curves.
  for (const s of series) {
    if (s.values.length === 0) continue;
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(Math.min(v, yMax)).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline class="curve" data-label="${esc(s.label)}" data-points="${s.values.length}" fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts}"/>`);
  }
  // Legend.
  series.forEach((s, k) => {
    const ly = m.top + 14 + k * 18;
    const lx = m.left + w - 250;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 32}" y="${ly}" dy="4" fill="#222">${esc(s.label)}</text>`);
  });
  return out;
}

/** The demo's four curves: training and validation loss of both runs. */
export function demoSeries(results) {
  const colors = ['#d62728', '#1f77b4'];
  return results.flatMap((r, k) => [
    { label: `${r.label} — train`, color: colors[k % 2], values: r.loss },
    { label: `${r.label} — test`, color: colors[k % 2], values: r.valLoss, dashed: true },
  ]);
}
