// #/reports?from=YYYY-MM-DD&to=YYYY-MM-DD : volume and count per day per provider and
// currency, success and refund rates, as charts and as tables (GET /v1/reports).
import { api } from "./api.js";
import { chart } from "./charts.js";
import { h, mount } from "./dom.js";
import { chartNumber, isoDay, money, percent } from "./format.js";
import { emptyState, errorState, filterForm, loading, pageHeader, section, table } from "./ui.js";

function defaultRange() {
  const to = new Date();
  const from = new Date(to);
  from.setUTCDate(from.getUTCDate() - 29);
  return { from: isoDay(from), to: isoDay(to) };
}

export async function render(ctx) {
  const range = { ...defaultRange() };
  if (ctx.params.get("from")) range.from = ctx.params.get("from");
  if (ctx.params.get("to")) range.to = ctx.params.get("to");
  const content = h("div", {}, loading());
  mount(ctx.root,
    pageHeader("Reports", "Per UTC day, provider and currency: count, outcomes, captured volume and refunds."),
    h("div", { class: "card" }, filterForm([
      { name: "from", label: "From", kind: "date", value: range.from, testid: "report-from" },
      { name: "to", label: "To (inclusive)", kind: "date", value: range.to, testid: "report-to" },
    ], (values) => ctx.navigate("/reports", values), { testid: "report-range", submitLabel: "Show" })),
    content);
  let report;
  try {
    report = await api("v1/reports", { params: range });
  } catch (error) {
    mount(content, errorState(error, "Choose a range of at most 92 days, from before to.", () => render(ctx)));
    return;
  }
  if (!ctx.isCurrent()) return;
  if (!report.days.length) {
    mount(content, emptyState(`No payments from ${report.from} to ${report.to}.`, "Choose a wider range."));
    return;
  }
  const dates = [...new Set(report.days.map((d) => d.date))].sort();
  const series = [...new Set(report.days.map((d) => `${d.provider} ${d.currency}`))].sort();
  const currencies = [...new Set(report.days.map((d) => d.currency))].sort();
  const cell = (date, name, key) => report.days.find((d) => d.date === date && `${d.provider} ${d.currency}` === name)?.[key];

  // One volume chart per currency that captured something: a chart of zeros says nothing.
  const volumeCharts = [];
  for (const currency of currencies.filter((c) => report.days.some((d) => d.currency === c && Number(d.volume) !== 0))) {
    const names = series.filter((name) => name.endsWith(` ${currency}`));
    volumeCharts.push(await chart(ctx, {
      labels: dates,
      stacked: true,
      counts: false,
      title: `Captured volume per day, ${currency}`,
      testid: "chart-volume",
      datasets: names.map((name) => ({ label: name.split(" ")[0], data: dates.map((date) => chartNumber(cell(date, name, "volume") ?? 0, currency)) })),
      valueLabel: (item) => {
        const name = names[item.datasetIndex];
        return `${name.split(" ")[0]}: ${money(cell(dates[item.dataIndex], name, "volume") ?? 0, currency)}`;
      },
    }));
  }
  const countChart = await chart(ctx, {
    labels: dates,
    stacked: true,
    title: "Payments per day",
    testid: "chart-count",
    datasets: series.map((name) => ({ label: name, data: dates.map((date) => cell(date, name, "count") ?? 0) })),
  });

  mount(content,
    report.truncated ? h("p", { class: "notice tone-warn", role: "status" }, "The report is truncated: too many payments in this range; choose a shorter one.") : null,
    section("Totals", table([
      { label: "Provider", cell: (t) => t.provider },
      { label: "Currency", cell: (t) => t.currency },
      { label: "Payments", cell: (t) => String(t.count), class: "num" },
      { label: "Succeeded", cell: (t) => String(t.succeeded), class: "num" },
      { label: "Failed", cell: (t) => String(t.failed), class: "num" },
      { label: "Volume", cell: (t) => money(t.volume, t.currency), class: "num" },
      { label: "Refunded", cell: (t) => money(t.refunded, t.currency), class: "num" },
      { label: "Success rate", cell: (t) => percent(t.success_rate), class: "num" },
      { label: "Refund rate", cell: (t) => percent(t.refund_rate), class: "num" },
    ], report.totals, { testid: "report-totals", rowTestid: "report-total-row" })),
    section("Charts", h("div", { class: "chart-grid" },
      volumeCharts.length ? volumeCharts : emptyState("No captured volume in this range.", "Volume is what succeeded payments captured; the payments per day are beside."),
      countChart)),
    section("Per day", h("details", {}, h("summary", {}, `${report.days.length} rows`), table([
      { label: "Day", cell: (d) => d.date },
      { label: "Provider", cell: (d) => d.provider },
      { label: "Currency", cell: (d) => d.currency },
      { label: "Payments", cell: (d) => String(d.count), class: "num" },
      { label: "Succeeded", cell: (d) => String(d.succeeded), class: "num" },
      { label: "Failed", cell: (d) => String(d.failed), class: "num" },
      { label: "Volume", cell: (d) => money(d.volume, d.currency), class: "num" },
      { label: "Refunded", cell: (d) => money(d.refunded, d.currency), class: "num" },
    ], report.days, { testid: "report-days" }))));
}
