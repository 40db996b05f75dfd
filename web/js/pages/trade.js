// The trade ticket: market or pending, volume, SL/TP. The API is asked not to wait
// (`?wait=0`): it answers 202 at once and the ticket's status follows the job live from
// /v1/events (or by polling when the stream is unavailable) until it fills or fails.

import { idempotencyKey } from "../api.js";
import { busy, choices, clearErrors, field, formError, h, replace, showProblem, values } from "../dom.js";
import { shortId, when } from "../format.js";
import { describeJob, followJob, outcomeWord, TERMINAL } from "../jobs.js";

/** Job codes that concern one field of the ticket. */
const CODE_FIELDS = {
  invalid_volume: "volume",
  invalid_price: "price",
  invalid_stops: "sl",
  risk_limit: "volume",
  no_money: "volume",
};

function statusPanel() {
  const heading = h("h2", { id: "ticket-status-title" }, "Status");
  const line = h("p", { class: "ticket-status", role: "status", "aria-live": "polite" }, "No order placed yet.");
  const timeline = h("ol", { class: "timeline", "aria-label": "Steps so far" });
  const box = h("section", { class: "status-box", "aria-labelledby": "ticket-status-title" }, heading, line, timeline);
  const steps = [];
  return {
    box,
    start(job) {
      steps.length = 0;
      timeline.replaceChildren();
      this.update(job);
    },
    update(job) {
      const text =
        job.status === "succeeded" ? `${outcomeWord(job)}: ${describeJob(job)}`
          : TERMINAL.has(job.status) ? `${job.status === "failed" ? "Failed" : "Cancelled"}: ${describeJob(job)}`
            : `Trade ${shortId(job.id)} is ${job.status}${job.status === "queued" ? " (waiting for the worker)" : "…"}`;
      line.textContent = text;
      line.dataset.status = job.status;
      if (steps[steps.length - 1] !== job.status) {
        steps.push(job.status);
        timeline.append(h("li", { class: `badge ${job.status}` }, `${job.status} ${when(new Date().toISOString())}`));
      }
    },
    fail(detail) {
      line.textContent = detail;
      line.dataset.status = "refused";
    },
  };
}

export function render(ctx, root) {
  let disposed = false;
  const stop = new AbortController();
  const accountSelect = field({ label: "Account", name: "account_id", type: "select", options: [{ value: "", label: "Loading…" }] });
  const price = field({ label: "Price", name: "price", attrs: { inputmode: "decimal" }, hint: "The limit or stop price" });
  const submit = h("button", { type: "submit" }, "Place order");
  const panel = statusPanel();
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "ticket-title" },
    accountSelect,
    field({ label: "Symbol", name: "symbol", value: "EURUSD", attrs: { autocomplete: "off", autocapitalize: "characters" } }),
    choices({ legend: "Side", name: "side", value: "buy", options: [{ value: "buy", label: "Buy" }, { value: "sell", label: "Sell" }] }),
    h(
      "div",
      { class: "grid2" },
      field({
        label: "Order type", name: "type", type: "select", value: "market",
        options: [{ value: "market", label: "Market" }, { value: "limit", label: "Limit (pending)" }, { value: "stop", label: "Stop (pending)" }],
      }),
      field({ label: "Volume", name: "volume", value: "0.10", attrs: { inputmode: "decimal" }, hint: "Lots on MT5; base currency on exchanges" }),
      price,
      field({ label: "Stop loss", name: "sl", attrs: { inputmode: "decimal" }, hint: "Optional" }),
      field({ label: "Take profit", name: "tp", attrs: { inputmode: "decimal" }, hint: "Optional" }),
    ),
    formError(),
    h("div", { class: "actions" }, submit),
  );
  const sync = () => { price.hidden = form.querySelector('[name="type"]').value === "market"; };
  form.addEventListener("change", sync);
  sync();

  // One key per intended order: a retry after a network failure reuses it (no second order).
  let pendingKey = null;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = values(form);
    const body = { action: "open", symbol: v.symbol, side: v.side, type: v.type, volume: v.volume };
    for (const name of ["price", "sl", "tp", "account_id"]) if (v[name]) body[name] = v[name];
    pendingKey = pendingKey || idempotencyKey();
    busy(submit, "Placing…", async () => {
      clearErrors(form);
      try {
        const answer = await ctx.api.post("/v1/trades?wait=0", body, { headers: { "Idempotency-Key": pendingKey } });
        pendingKey = null;
        const job = answer.status === 202 ? answer.data.job : answer.data;
        panel.start(job);
        ctx.announce(`Order sent: ${job.status}`);
        followJob(ctx, job, (j) => panel.update(j), { signal: stop.signal }).then((done) => {
          if (disposed) return;
          panel.update(done);
          ctx.announce(done.status === "succeeded" ? `${outcomeWord(done)}: ${describeJob(done)}` : `Order ${done.status}: ${describeJob(done)}`);
        });
      } catch (error) {
        if (error.name !== "ApiError") throw error;
        if (error.status !== 0) pendingKey = null; // a definite answer: the next order is a new one
        panel.fail(error.detail);
        showProblem(form, error, CODE_FIELDS);
      }
    });
  });

  const loadAccounts = async () => {
    const select = accountSelect.querySelector("select");
    try {
      const { data } = await ctx.api.get("/v1/accounts");
      if (disposed) return;
      const usable = data.filter((a) => a.status === "verified" && a.is_active);
      const fallback = usable.find((a) => a.is_default) || usable[0];
      replace(
        select,
        usable.length
          ? usable.map((a) => h("option", { value: a.id, selected: a === fallback }, `${a.name}${a.is_default ? " (default)" : ""}`))
          : h("option", { value: "" }, "No verified account: connect one first"),
      );
    } catch (error) {
      replace(select, h("option", { value: "" }, error.detail || "accounts unavailable"));
    }
  };
  loadAccounts();

  replace(
    root,
    h("h1", { id: "ticket-title" }, "Trade"),
    h("div", { class: "columns" }, h("section", { class: "panel", "aria-label": "Order ticket" }, form), panel.box),
  );
  return () => {
    disposed = true;
    stop.abort();
  };
}
