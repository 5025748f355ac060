// Charts through Chart.js (its UMD build, served from this API as chart.umd.js and loaded on
// first use). Colours come from the theme's CSS variables; charts redraw on a theme switch.
import { h } from "./dom.js";

let loaded = null;

export function loadChartLibrary() {
  if (globalThis.Chart) return Promise.resolve(globalThis.Chart);
  if (!loaded) {
    loaded = new Promise((resolve, reject) => {
      const script = h("script", { src: new URL("chart.umd.js", import.meta.url).href });
      script.addEventListener("load", () => resolve(globalThis.Chart));
      script.addEventListener("error", () => {
        loaded = null;
        reject(new Error("The chart library could not be loaded"));
      });
      document.head.appendChild(script);
    });
  }
  return loaded;
}

const PALETTE = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5", "--chart-6"];

export function colour(index) {
  const style = getComputedStyle(document.documentElement);
  return style.getPropertyValue(PALETTE[index % PALETTE.length]).trim() || "#888";
}

// A chart in its own box; destroyed when the view closes. kind: bar|line. counts: whole
// numbers on the value axis (false for amounts: 0.0014 BTC needs decimal ticks).
export async function chart(ctx, { kind = "bar", labels, datasets, stacked = false, title, testid, valueLabel, counts = true }) {
  const canvas = h("canvas", { role: "img", "aria-label": title });
  const box = h("figure", { class: "chart", "data-testid": testid }, h("figcaption", {}, title), h("div", { class: "chart-box" }, canvas));
  const Chart = await loadChartLibrary();
  let instance = null;
  const draw = () => {
    if (instance) instance.destroy();
    const style = getComputedStyle(document.documentElement);
    const text = style.getPropertyValue("--text-muted").trim();
    const grid = style.getPropertyValue("--border").trim();
    instance = new Chart(canvas, {
      type: kind,
      data: {
        labels,
        datasets: datasets.map((d, i) => ({
          ...d,
          backgroundColor: colour(i),
          borderColor: colour(i),
          borderWidth: kind === "line" ? 2 : 0,
          tension: 0, // straight lines: a curve between two days' counts would invent values
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { labels: { color: text, boxWidth: 12 } },
          tooltip: valueLabel ? { callbacks: { label: valueLabel } } : {},
        },
        scales: {
          x: { stacked, ticks: { color: text }, grid: { color: grid } },
          y: { stacked, beginAtZero: true, ticks: counts ? { color: text, precision: 0 } : { color: text }, grid: { color: grid } },
        },
      },
    });
  };
  // Drawn once the box is in the page (Chart.js measures its parent).
  requestAnimationFrame(draw);
  const redraw = () => draw();
  window.addEventListener("dashboard:theme", redraw);
  ctx.onCleanup(() => {
    window.removeEventListener("dashboard:theme", redraw);
    if (instance) instance.destroy();
  });
  return box;
}
