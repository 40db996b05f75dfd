// Open positions across your accounts (GET /v1/positions, every page), each with a Close
// button that asks first, then sends a close trade and follows it like the ticket does.
// The worker refreshes positions right after every trade, so the list is current as soon
// as the close succeeds. Shown only where the API serves it.

import { idempotencyKey } from "../api.js";
import { busy, confirmDialog, field, h, replace } from "../dom.js";
import { amount, plain, when } from "../format.js";
import { describeJob, followJob } from "../jobs.js";
import { accountNamer, table } from "./history.js";

const REFRESH_MS = 15_000;
// At most this many pages of 200 are read (a list longer than that says so).
const MAX_PAGES = 10;

async function allPositions(ctx, accountId) {
  const params = new URLSearchParams({ limit: "200" });
  if (accountId) params.set("account_id", accountId);
  let url = `/v1/positions?${params}`;
  const items = [];
  for (let page = 0; url && page < MAX_PAGES; page += 1) {
    const { data } = await ctx.api.get(url);
    items.push(...data.items);
    url = data.next;
  }
  return { items, truncated: Boolean(url) };
}

export function render(ctx, root) {
  let disposed = false;
  let timer = null;
  const stop = new AbortController();
  const accountField = field({ label: "Account", name: "account_id", type: "select", options: [{ value: "", label: "All accounts" }] });
  const filters = h("form", { class: "panel", "aria-label": "Filters", onSubmit: (e) => e.preventDefault() }, accountField);
  const holder = h("div", { "aria-live": "polite" }, h("p", { class: "empty" }, "Loading positions…"));
  const status = h("p", { role: "status", class: "progress", hidden: true });
  const problem = h("p", { class: "form-error", role: "alert", hidden: true });

  const closeButton = (position, nameOf) => {
    const id = String(position.position);
    const what = `${position.side} ${position.volume} ${position.symbol}`;
    const button = h("button", { type: "button", class: "secondary", "aria-label": `Close ${position.symbol} position ${id}` }, "Close");
    button.addEventListener("click", async () => {
      const sure = await confirmDialog({
        title: `Close position ${id}?`,
        body: `${what} on ${nameOf(position.account_id)} is closed at the market price.`,
        confirm: "Close position",
      });
      if (!sure) return button.focus();
      await busy(button, "Closing…", async () => {
        problem.hidden = true;
        try {
          const body = { action: "close", position: id, account_id: position.account_id };
          const answer = await ctx.api.post("/v1/trades?wait=0", body, { headers: { "Idempotency-Key": idempotencyKey() } });
          const job = answer.status === 202 ? answer.data.job : answer.data;
          status.hidden = false;
          status.textContent = `Closing ${position.symbol}: ${job.status}…`;
          const done = await followJob(ctx, job, (j) => { status.textContent = `Closing ${position.symbol}: ${j.status}…`; }, { signal: stop.signal });
          status.textContent = done.status === "succeeded" ? `Closed: ${describeJob(done)}` : `Not closed: ${describeJob(done)}`;
        } catch (error) {
          problem.textContent = error.detail || String(error);
          problem.hidden = false;
        }
        await load();
      });
    });
    return button;
  };

  const load = async () => {
    try {
      const select = accountField.querySelector("select");
      const chosen = select.value;
      const [{ data: accounts }, { items, truncated }] = await Promise.all([ctx.api.get("/v1/accounts"), allPositions(ctx, chosen)]);
      if (disposed) return;
      replace(select, h("option", { value: "" }, "All accounts"), accounts.map((a) => h("option", { value: a.id, selected: a.id === chosen }, a.name)));
      const nameOf = accountNamer(accounts);
      replace(
        holder,
        table(
          "Open positions across your accounts",
          [
            { label: "Account", value: (p) => nameOf(p.account_id) },
            { label: "Symbol", value: (p) => plain(p.symbol) },
            { label: "Side", value: (p) => plain(p.side) },
            { label: "Volume", num: true, value: (p) => plain(p.volume) },
            { label: "Open price", num: true, value: (p) => plain(p.open_price) },
            { label: "SL", num: true, value: (p) => plain(p.sl) },
            { label: "TP", num: true, value: (p) => plain(p.tp) },
            { label: "Profit", num: true, value: (p) => amount(p.profit, p.currency) },
            { label: "Opened", value: (p) => when(p.opened_at) },
            { label: "As of", value: (p) => when(p.updated_at) },
            { label: "Actions", value: (p) => closeButton(p, nameOf) },
          ],
          items,
        ),
        truncated ? h("p", { class: "hint" }, `Showing the newest ${items.length} positions.`) : null,
      );
      problem.hidden = true;
    } catch (error) {
      if (disposed) return;
      problem.textContent = error.detail || String(error);
      problem.hidden = false;
    }
  };
  accountField.addEventListener("change", load);
  const off = ctx.events.on((event) => {
    if (event.type === "order" || (event.type === "job" && event.data?.status === "succeeded")) load();
  });
  const poll = () => {
    timer = setTimeout(async () => {
      if (!ctx.events.live) await load();
      if (!disposed) poll();
    }, REFRESH_MS);
  };
  replace(root, h("h1", {}, "Open positions"), filters, status, problem, holder);
  load();
  poll();
  return () => {
    disposed = true;
    stop.abort();
    off();
    clearTimeout(timer);
  };
}
