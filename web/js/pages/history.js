// Trade history: GET /v1/trades (newest first, `next` for older pages), filtered by account
// and status; and the venue's own deals (GET /v1/deals, paged the same way) where the API
// serves them, filtered by account, symbol and days (From/To are local calendar days).

import { clearErrors, field, h, replace, showProblem, values } from "../dom.js";
import { amount, plain, shortId, when } from "../format.js";
import { describeJob } from "../jobs.js";

const REFRESH_MS = 20_000;
const TRADE_KINDS = new Set(["order", "close", "modify", "cancel", "signal"]);

export function table(caption, columns, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : "" }, c.label)))),
      h(
        "tbody",
        {},
        rows.length
          ? rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.value(row)))))
          : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, "Nothing yet.")),
      ),
    ),
  );
}

export function accountNamer(accounts) {
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  return (id) => (id ? names.get(id) || shortId(id) : "deleted account");
}

const tradeColumns = (nameOf) => [
  { label: "Time", value: (t) => when(t.created_at) },
  { label: "Account", value: (t) => nameOf(t.account_id) },
  { label: "Action", value: (t) => (t.kind === "order" ? t.payload?.type || "market" : t.kind) },
  { label: "Symbol", value: (t) => plain(t.payload?.symbol) },
  { label: "Side", value: (t) => plain(t.payload?.side) },
  { label: "Volume", num: true, value: (t) => plain(t.fill?.volume ?? t.payload?.volume) },
  { label: "Price", num: true, value: (t) => plain(t.fill?.price ?? t.payload?.price) },
  { label: "Status", value: (t) => h("span", { class: `badge ${t.status}` }, t.status) },
  { label: "Outcome", value: (t) => (t.status === "succeeded" ? describeJob(t) : plain(t.error?.message)) },
];

const dealColumns = (nameOf) => [
  { label: "Time", value: (d) => when(d.executed_at) },
  { label: "Account", value: (d) => nameOf(d.account_id) },
  { label: "Symbol", value: (d) => plain(d.symbol || null) },
  { label: "Side", value: (d) => (d.side ? d.side : "balance") },
  { label: "Entry", value: (d) => plain(d.entry) },
  { label: "Volume", num: true, value: (d) => plain(d.volume) },
  { label: "Price", num: true, value: (d) => plain(d.price) },
  { label: "Profit", num: true, value: (d) => amount(d.profit, d.currency) },
  { label: "Commission", num: true, value: (d) => amount(sum(d.commission, d.fee)) },
  { label: "Swap", num: true, value: (d) => amount(d.swap) },
];

function sum(...values) {
  const present = values.filter((v) => v !== null && v !== undefined);
  return present.length ? present.reduce((a, v) => a + Number(v), 0) : null;
}

/** A local calendar day (YYYY-MM-DD) as the instant it starts, with its offset. */
function dayStart(day, plusDays = 0) {
  const date = new Date(`${day}T00:00:00`);
  date.setDate(date.getDate() + plusDays);
  return date.toISOString();
}

export function render(ctx, root) {
  let disposed = false;
  let timer = null;
  let nameOf = accountNamer([]);
  const accountField = field({ label: "Account", name: "account_id", type: "select", options: [{ value: "", label: "All accounts" }] });
  const statusField = field({
    label: "Status", name: "status", type: "select", value: "",
    options: ["", "queued", "running", "succeeded", "failed", "cancelled"].map((s) => ({ value: s, label: s || "Any status" })),
  });
  const symbolField = field({ label: "Symbol", name: "symbol", hint: "Filters the deals.", attrs: { autocomplete: "off", maxlength: "64" } });
  const fromField = field({ label: "From", name: "since", type: "date", hint: "Deals from this day on." });
  const toField = field({ label: "To", name: "until", type: "date", hint: "Deals up to and including this day." });
  const filters = h(
    "form",
    { class: "grid2", "aria-label": "Filters", onSubmit: (e) => e.preventDefault() },
    accountField, statusField, ...(ctx.features.deals ? [symbolField, fromField, toField] : []),
  );
  const trades = h("div", { "aria-live": "polite" });
  const deals = h("div", {});
  const problem = h("p", { class: "form-error", role: "alert", hidden: true });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load older trades");
  const moreDeals = h("button", { type: "button", class: "secondary", hidden: true }, "Load older deals");
  let rows = [];
  let next = null;
  let dealRows = [];
  let dealsNext = null;

  const dealQuery = () => {
    const v = values(filters);
    const params = new URLSearchParams({ limit: "50" });
    if (v.account_id) params.set("account_id", v.account_id);
    if (v.symbol && v.symbol.trim()) params.set("symbol", v.symbol.trim());
    if (v.since) params.set("since", dayStart(v.since));
    if (v.until) params.set("until", dayStart(v.until, 1));
    return params;
  };

  const showDeals = () => {
    replace(deals, h("h2", {}, "Deals at the venue"), table("Executions the venue reported, newest first", dealColumns(nameOf), dealRows));
    moreDeals.hidden = !dealsNext;
  };

  const query = () => {
    const v = values(filters);
    const params = new URLSearchParams({ limit: "50" });
    if (v.account_id) params.set("account_id", v.account_id);
    if (v.status) params.set("status", v.status);
    return params;
  };

  const show = () => {
    replace(trades, table("Your trades, newest first", tradeColumns(nameOf), rows));
    more.hidden = !next;
  };

  const load = async () => {
    try {
      const [{ data: accounts }, { data: page }] = await Promise.all([
        ctx.api.get("/v1/accounts"),
        ctx.api.get(`/v1/trades?${query()}`),
      ]);
      if (disposed) return;
      nameOf = accountNamer(accounts);
      const select = accountField.querySelector("select");
      const chosen = select.value;
      replace(select, h("option", { value: "" }, "All accounts"), accounts.map((a) => h("option", { value: a.id, selected: a.id === chosen }, a.name)));
      rows = page.items;
      next = page.next;
      problem.hidden = true;
      show();
      if (ctx.features.deals) {
        clearErrors(filters);
        const { data: dealPage } = await ctx.api.get(`/v1/deals?${dealQuery()}`);
        if (disposed) return;
        dealRows = dealPage.items;
        dealsNext = dealPage.next;
        showDeals();
      }
    } catch (error) {
      if (disposed) return;
      if (error.errors?.length) return showProblem(filters, error); // next to the filter
      problem.textContent = error.detail || String(error);
      problem.hidden = false;
    }
  };

  more.addEventListener("click", async () => {
    if (!next) return;
    try {
      const { data } = await ctx.api.get(next);
      rows = rows.concat(data.items);
      next = data.next;
      show();
    } catch (error) {
      problem.textContent = error.detail;
      problem.hidden = false;
    }
  });
  moreDeals.addEventListener("click", async () => {
    if (!dealsNext) return;
    try {
      const { data } = await ctx.api.get(dealsNext);
      dealRows = dealRows.concat(data.items);
      dealsNext = data.next;
      showDeals();
    } catch (error) {
      problem.textContent = error.detail;
      problem.hidden = false;
    }
  });
  filters.addEventListener("change", load);
  const off = ctx.events.on((event) => {
    if (event.type === "job" && TRADE_KINDS.has(event.data?.kind)) load();
  });
  const poll = () => {
    timer = setTimeout(async () => {
      if (!ctx.events.live) await load();
      if (!disposed) poll();
    }, REFRESH_MS);
  };

  replace(
    root, h("h1", {}, "History"), h("section", { class: "panel" }, filters), problem, trades,
    h("div", { class: "actions" }, more), deals, h("div", { class: "actions" }, moreDeals),
  );
  load();
  poll();
  return () => {
    disposed = true;
    off();
    clearTimeout(timer);
  };
}
