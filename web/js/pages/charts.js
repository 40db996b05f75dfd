// The equity curve of one account (GET /v1/accounts/{id}/equity: its balance snapshots) and
// realised P&L by day (GET /v1/pnl, days of the browser's own time zone), drawn with the
// vendored uPlot. Each chart has a caption and its numbers in a table, for people who cannot
// see the canvas.

import { field, h, replace } from "../dom.js";
import { amount, pick, plain, when } from "../format.js";
import { table } from "./history.js";

const DAY_S = 86_400;
const LOCAL_TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function chartWidth(el) {
  return Math.max(200, Math.min(el.clientWidth || 600, 1100));
}

function figure(title, summary, chartEl, numbers) {
  return h(
    "figure",
    { class: "panel" },
    h("figcaption", {}, h("h2", {}, title), h("p", { class: "hint" }, summary)),
    chartEl,
    h("details", { class: "chart-fallback" }, h("summary", {}, "Show the numbers"), numbers),
  );
}

function lineChart(host, points) {
  const xs = points.map((p) => Date.parse(pick(p, "taken_at", "time", "at")) / 1000);
  const balance = points.map((p) => Number(p.balance));
  const equity = points.map((p) => (p.equity === null || p.equity === undefined ? null : Number(p.equity)));
  const opts = {
    width: chartWidth(host), height: 260,
    series: [
      {},
      { label: "Balance", stroke: "#1f4e79", width: 2 },
      { label: "Equity", stroke: "#1a7f37", width: 2, dash: [6, 4] },
    ],
    axes: [{}, { size: 70 }],
  };
  return new window.uPlot(opts, [xs, balance, equity], host);
}

function barChart(host, days) {
  // local midnight: the days are the browser's own (the `tz` the API was asked for)
  const xs = days.map((d) => Date.parse(`${pick(d, "day", "date", "key", "period")}T00:00:00`) / 1000);
  const pnl = days.map((d) => Number(pick(d, "realised", "realized", "realised_pnl", "profit", "pnl") ?? 0));
  const opts = {
    width: chartWidth(host), height: 240,
    // from the days themselves (uPlot widens a one-point range by years): a day's margin
    scales: { x: { time: true, range: () => [Math.min(...xs) - DAY_S, Math.max(...xs) + DAY_S] } },
    series: [
      {},
      { label: "Realised P&L", stroke: "#1f4e79", fill: "rgba(31, 78, 121, .35)", paths: window.uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } },
    ],
    axes: [{}, { size: 70 }],
  };
  return new window.uPlot(opts, [xs, pnl], host);
}

export function render(ctx, root) {
  let disposed = false;
  const plots = [];
  const accountField = field({ label: "Account", name: "account_id", type: "select", options: [{ value: "", label: "Loading…" }] });
  const equityHolder = h("div", {});
  const pnlHolder = h("div", {});
  const problem = h("p", { class: "form-error", role: "alert", hidden: true });
  const fail = (error) => {
    if (disposed) return;
    problem.textContent = error.detail || String(error);
    problem.hidden = false;
  };
  const clearPlots = () => { while (plots.length) plots.pop().destroy(); };

  const loadEquity = async (account) => {
    if (!ctx.features.equity || !account) return replace(equityHolder);
    const { data } = await ctx.api.get(`/v1/accounts/${account.id}/equity`);
    if (disposed) return;
    const points = (Array.isArray(data) ? data : data.items || []).slice().sort((a, b) => Date.parse(pick(a, "taken_at", "time")) - Date.parse(pick(b, "taken_at", "time")));
    const host = h("div", { class: "chart", role: "img", "aria-label": `Balance and equity of ${account.name} over time` });
    const last = points[points.length - 1];
    const summary = points.length ? `${points.length} snapshots; latest balance ${amount(last.balance, last.currency)}` : "No balance snapshots yet.";
    replace(
      equityHolder,
      figure(`Equity curve · ${account.name}`, summary, host, table("Balance snapshots", [
        { label: "Time", value: (p) => when(pick(p, "taken_at", "time")) },
        { label: "Balance", num: true, value: (p) => amount(p.balance, p.currency) },
        { label: "Equity", num: true, value: (p) => amount(p.equity, p.currency) },
      ], points)),
    );
    if (points.length) plots.push(lineChart(host, points));
  };

  const loadPnl = async (account) => {
    if (!ctx.features.pnl) return replace(pnlHolder);
    const params = new URLSearchParams({ [ctx.features.pnlGroupParam]: "day", tz: LOCAL_TZ });
    if (account) params.set("account_id", account.id);
    let data;
    try {
      ({ data } = await ctx.api.get(`/v1/pnl?${params}`));
    } catch (error) {
      if (!error.errors?.some((e) => e.field === "query.tz")) throw error;
      params.set("tz", "UTC"); // a zone the database does not know: UTC days
      ({ data } = await ctx.api.get(`/v1/pnl?${params}`));
    }
    if (disposed) return;
    const days = (Array.isArray(data) ? data : data.items || data.groups || []).slice();
    const host = h("div", { class: "chart", role: "img", "aria-label": "Realised profit and loss by day" });
    replace(
      pnlHolder,
      figure("P&L by day", days.length ? `${days.length} days with trades (days in ${data.tz})` : "No closed trades yet.", host, table("Realised P&L by day", [
        { label: "Day", value: (d) => plain(pick(d, "day", "date", "key", "period")) },
        { label: "Realised", num: true, value: (d) => amount(pick(d, "realised", "realized", "realised_pnl", "profit", "pnl")) },
        { label: "Fees", num: true, value: (d) => amount(pick(d, "fees", "fee", "commission")) },
        { label: "Swaps", num: true, value: (d) => amount(pick(d, "swaps", "swap")) },
        { label: "Net", num: true, value: (d) => amount(d.net, d.currency) },
        { label: "Trades", num: true, value: (d) => plain(pick(d, "trades", "count", "number_of_trades")) },
        { label: "Win rate", num: true, value: (d) => (d.win_rate === null || d.win_rate === undefined ? "—" : `${Math.round(d.win_rate * 100)}%`) },
      ], days)),
    );
    if (days.length) plots.push(barChart(host, days));
  };

  let accounts = [];
  const refresh = async () => {
    clearPlots();
    problem.hidden = true;
    const chosen = accounts.find((a) => a.id === accountField.querySelector("select").value);
    await Promise.all([loadEquity(chosen).catch(fail), loadPnl(chosen).catch(fail)]);
  };

  (async () => {
    try {
      const { data } = await ctx.api.get("/v1/accounts");
      if (disposed) return;
      accounts = data;
      const fallback = data.find((a) => a.is_default) || data[0];
      replace(
        accountField.querySelector("select"),
        data.length ? data.map((a) => h("option", { value: a.id, selected: a === fallback }, a.name)) : h("option", { value: "" }, "No accounts yet"),
      );
      await refresh();
    } catch (error) {
      fail(error);
    }
  })();
  accountField.addEventListener("change", refresh);

  replace(
    root,
    h("h1", {}, "Equity & P&L"),
    h("form", { class: "panel", "aria-label": "Which account", onSubmit: (e) => e.preventDefault() }, accountField),
    problem,
    equityHolder,
    pnlHolder,
  );
  return () => {
    disposed = true;
    clearPlots();
  };
}
