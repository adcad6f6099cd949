// Line charts drawn as inline SVG: one line per series, time axis, value axis, legend, and a
// read-out of the values under the pointer. Labels are text nodes, never markup.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { left: 52, right: 22, top: 12, bottom: 28 };
export const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

// Round a maximum up to 1, 2 or 5 times a power of ten, so the axis has round ticks.
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function formatNumber(value) {
  if (value === null || value === undefined) return "–";
  return value >= 100 || Number.isInteger(value) ? Math.round(value).toLocaleString("en") : value.toFixed(1);
}

function hhmm(date) {
  return date.toISOString().slice(11, 16);
}

/**
 * Draw a line chart into `figure` (replacing an earlier one).
 * @param {HTMLElement} figure - a <figure> with a <figcaption>
 * @param {{times: Date[], series: {name: string, values: (number|null)[], dashed?: boolean}[],
 *          unit: string, empty: string}} data
 */
export function lineChart(figure, data) {
  for (const old of figure.querySelectorAll("svg, .legend, .readout, .empty")) old.remove();
  const caption = figure.querySelector("figcaption");
  const { times, series } = data;
  const hasData = series.some((s) => s.values.some((v) => v !== null && v > 0));
  if (!times.length || !hasData) {
    const empty = document.createElement("p");
    empty.className = "empty muted";
    empty.textContent = data.empty;
    figure.append(empty);
    return;
  }
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const top = niceMax(Math.max(...series.flatMap((s) => s.values.filter((v) => v !== null))));
  const x = (i) => MARGIN.left + (times.length === 1 ? plotW / 2 : (i * plotW) / (times.length - 1));
  const y = (v) => MARGIN.top + plotH - (v / top) * plotH;

  const titleId = `${figure.id}-title`;
  const descId = `${figure.id}-desc`;
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-labelledby": `${titleId} ${descId}`,
    class: "chart-svg",
  });
  root.append(svg("title", { id: titleId }, caption ? caption.textContent : ""));
  const summary = series
    .map((s) => {
      const known = s.values.filter((v) => v !== null);
      const last = known.length ? known[known.length - 1] : null;
      return `${s.name}: highest ${formatNumber(Math.max(0, ...known))}, latest ${formatNumber(last)} ${data.unit}`;
    })
    .join("; ");
  root.append(svg("desc", { id: descId }, `From ${hhmm(times[0])} to ${hhmm(times[times.length - 1])} UTC. ${summary}.`));

  for (let k = 0; k <= 4; k++) {
    const value = (top * k) / 4;
    root.append(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value), class: "grid" }));
    root.append(svg("text", { x: MARGIN.left - 6, y: y(value) + 4, class: "tick", "text-anchor": "end" }, formatNumber(value)));
  }
  const span = times[times.length - 1] - times[0];
  const every = Math.max(1, Math.round((3 * 3600 * 1000 * (times.length - 1)) / Math.max(span, 1)));
  for (let i = 0; i < times.length; i += every) {
    root.append(svg("line", { x1: x(i), x2: x(i), y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4, class: "axis" }));
    root.append(svg("text", { x: x(i), y: HEIGHT - 8, class: "tick", "text-anchor": "middle" }, hhmm(times[i])));
  }
  root.append(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH, class: "axis" }));

  series.forEach((s, n) => {
    let path = "";
    let drawing = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        drawing = false;
        return;
      }
      path += `${drawing ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      drawing = true;
    });
    const colour = COLOURS[n % COLOURS.length];
    const attrs = { d: path.trim() || "M0,0", fill: "none", stroke: colour, "stroke-width": 2, class: "series" };
    if (s.dashed) attrs["stroke-dasharray"] = "5 4";
    const line = svg("path", attrs);
    line.dataset.series = s.name;
    root.append(line);
  });

  const cursor = svg("line", { y1: MARGIN.top, y2: MARGIN.top + plotH, class: "cursor", visibility: "hidden" });
  root.append(cursor);
  const readout = document.createElement("p");
  readout.className = "readout muted";
  readout.textContent = "Point at the chart to read its values.";
  root.addEventListener("pointermove", (event) => {
    const box = root.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * WIDTH;
    const i = Math.min(times.length - 1, Math.max(0, Math.round(((px - MARGIN.left) / plotW) * (times.length - 1))));
    cursor.setAttribute("x1", x(i));
    cursor.setAttribute("x2", x(i));
    cursor.setAttribute("visibility", "visible");
    readout.textContent = `${hhmm(times[i])} UTC — ${series.map((s) => `${s.name} ${formatNumber(s.values[i])}`).join(", ")} ${data.unit}`;
  });
  root.addEventListener("pointerleave", () => cursor.setAttribute("visibility", "hidden"));

  const legend = document.createElement("ul");
  legend.className = "legend";
  series.forEach((s, n) => {
    const item = document.createElement("li");
    const swatch = svg("svg", { width: 22, height: 10, "aria-hidden": "true" });
    const attrs = { x1: 1, x2: 21, y1: 5, y2: 5, stroke: COLOURS[n % COLOURS.length], "stroke-width": 3 };
    if (s.dashed) attrs["stroke-dasharray"] = "5 3";
    swatch.append(svg("line", attrs));
    item.append(swatch, document.createTextNode(` ${s.name}`));
    legend.append(item);
  });
  figure.append(root, legend, readout);
}
