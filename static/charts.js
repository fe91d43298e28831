// Charts people read values off (training curves, runs compared, rounds side by side), drawn with uPlot from
// npm (static/vendor/uplot) out of the numbers in each <figure data-chart> (app/quality/charts.py's Chart):
// axes with ticks, the values under the pointer in the legend, drag to zoom and double-click to zoom out,
// keys for the same, and a width that follows the container.
//
// A plot element keeps its chart across htmx swaps (hx-preserve in templates/partials/charts.html): when a
// running job's block is polled again the new numbers go in with setData, so the curves grow in place
// without flicker, and a zoomed-in view stays as the reader left it.
//
// uPlot styles its elements through the CSSOM (el.style.x = ...), which the Content-Security-Policy's
// style-src 'self' allows; its stylesheet is a vendored file like app.css.
(function () {
  "use strict";
  const COLORS = ["#2a62d9", "#c2410c", "#047857", "#7c3aed", "#b42318", "#0e7490", "#a16207", "#be185d"];
  const FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
  const AXIS = { font: FONT, labelFont: FONT, stroke: "#344054", grid: { stroke: "#eceef2" }, ticks: { stroke: "#d0d5dd" } };
  const states = new Set(); // {host, u, json, ro}
  const byHost = new WeakMap();

  // Numbers as people read them: four significant digits, powers of ten for the very small and large.
  function fmt(v) {
    if (v == null || !Number.isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return String(+v.toPrecision(4));
  }

  const heightFor = (width) => (width < 480 ? 190 : 230);

  function options(spec, width) {
    const names = spec.x_names;
    const nameOf = (v) => (names ? names[spec.x.indexOf(v)] : undefined);
    const xAxis = Object.assign({ label: spec.x_label }, AXIS);
    if (names) {
      xAxis.splits = () => spec.x; // one tick per round, with its name
      xAxis.values = (u, splits) => splits.map((v) => nameOf(v) ?? "");
    }
    const first = spec.x[0];
    const last = spec.x[spec.x.length - 1];
    return {
      width,
      height: heightFor(width),
      scales: {
        x: {
          time: false,
          // a lone point, or the rounds' ends, get room either side instead of sitting on the frame
          range: (u, min, max) => {
            if (min === max) return [min - 1, max + 1];
            if (names && min === first && max === last) return [min - 0.5, max + 0.5];
            return [min, max];
          },
        },
      },
      series: [
        { label: spec.x_label, value: (u, v) => (v == null ? "–" : nameOf(v) ?? fmt(v)) },
        ...spec.series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true, // an eval metric logged every n steps is still one line
          points: { show: spec.x.length <= 40, size: 6 },
          value: (u, v) => fmt(v),
        })),
      ],
      axes: [
        xAxis,
        Object.assign({}, AXIS, {
          values: (u, splits) => splits.map(fmt),
          size: (u, values) => (values ? Math.max(...values.map((t) => t.length)) * 7 + 22 : 50),
        }),
      ],
      cursor: { drag: { x: true, y: false }, sync: spec.group ? { key: spec.group } : undefined },
      legend: { live: true },
    };
  }

  const dataOf = (spec) => [spec.x, ...spec.series.map((s) => s.values)];

  function zoomed(u) {
    const x = u.data[0];
    return x.length > 0 && (u.scales.x.min > x[0] || u.scales.x.max < x[x.length - 1]);
  }

  function draw(figure) {
    const host = figure.querySelector(".chart-plot");
    if (!host) return;
    const json = figure.dataset.chart;
    const known = byHost.get(host);
    if (known && known.json === json) return;
    const spec = JSON.parse(json);
    if (known && known.series === spec.series.length && !spec.x_names) {
      known.u.setData(dataOf(spec), !zoomed(known.u)); // keep a view the reader zoomed into
      known.json = json;
      return;
    }
    if (known) forget(known);
    const u = new uPlot(options(spec, host.clientWidth || 600), dataOf(spec), host);
    const state = { host, u, json, series: spec.series.length, ro: null };
    state.ro = new ResizeObserver(() => {
      const width = host.clientWidth;
      if (width > 0 && Math.abs(width - u.width) >= 1) u.setSize({ width, height: heightFor(width) });
    });
    state.ro.observe(host);
    states.add(state);
    byHost.set(host, state);
  }

  function forget(state) {
    state.ro.disconnect();
    state.u.destroy();
    states.delete(state);
    byHost.delete(state.host);
  }

  function refresh() {
    for (const state of [...states]) if (!state.host.isConnected) forget(state);
    document.querySelectorAll("figure[data-chart]").forEach(draw);
  }

  // The keyboard does what the pointer does: ← → (Home, End) move the cursor from point to point, whose
  // values the legend shows; + and − zoom around it; 0 or Escape zoom out; 1–9 hide or show a line.
  function key(event) {
    const host = event.target.closest && event.target.closest(".chart-plot");
    const state = host && byHost.get(host);
    if (!state || event.altKey || event.ctrlKey || event.metaKey) return;
    const u = state.u;
    const x = u.data[0];
    if (!x.length) return;
    const visible = x.map((v, i) => [v, i]).filter(([v]) => v >= u.scales.x.min && v <= u.scales.x.max);
    const lo = visible.length ? visible[0][1] : 0;
    const hi = visible.length ? visible[visible.length - 1][1] : x.length - 1;
    let idx = u.cursor.idx;
    const move = (to) => {
      idx = Math.max(lo, Math.min(hi, to));
      const y = u.data.slice(1).map((s) => s[idx]).find((v) => v != null);
      const top = y == null ? u.over.clientHeight / 2 : u.valToPos(y, "y");
      u.setCursor({ left: u.valToPos(x[idx], "x"), top });
    };
    const span = u.scales.x.max - u.scales.x.min;
    const centre = idx != null ? x[idx] : u.scales.x.min + span / 2;
    switch (event.key) {
      case "ArrowRight": move(idx == null ? lo : idx + 1); break;
      case "ArrowLeft": move(idx == null ? hi : idx - 1); break;
      case "Home": move(lo); break;
      case "End": move(hi); break;
      case "+": case "=": u.setScale("x", { min: centre - span / 4, max: centre + span / 4 }); break;
      case "-": case "−": {
        const min = Math.max(x[0], centre - span);
        const max = Math.min(x[x.length - 1], centre + span);
        u.setScale("x", { min, max });
        break;
      }
      case "0": case "Escape": u.setScale("x", { min: x[0], max: x[x.length - 1] }); break;
      default:
        if (/^[1-9]$/.test(event.key) && +event.key < u.series.length) {
          const i = +event.key;
          u.setSeries(i, { show: !u.series[i].show });
          break;
        }
        return;
    }
    event.preventDefault();
    // after a zoom the cursor stays on the point it was on, while that point is still in view
    if (idx != null && !event.key.startsWith("Arrow") && event.key !== "Home" && event.key !== "End") {
      const inView = x[idx] >= u.scales.x.min && x[idx] <= u.scales.x.max;
      u.setCursor(inView ? { left: u.valToPos(x[idx], "x"), top: u.cursor.top } : { left: -10, top: -10 });
    }
  }

  document.addEventListener("keydown", key);
  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  // For the browser tests and anyone at the console: the chart drawn in a plot element.
  window.PreflabCharts = { of: (host) => (byHost.get(host) || {}).u, refresh };
})();
