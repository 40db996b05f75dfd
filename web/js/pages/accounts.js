// Accounts: the list (status and reason, permissions, balance; make default, verify again,
// delete) and the connect form (an MT5 login or an exchange API key). Secrets go out once
// and are never shown back: the API masks keys, and the form forgets what was typed.

import { busy, choices, clearErrors, confirmDialog, field, formError, h, replace, showProblem, values } from "../dom.js";
import { amount, plain, when } from "../format.js";
import { describeJob, followJob } from "../jobs.js";

/** Waits for the worker this long before the API answers 202 (and we follow the job). */
const CONNECT_WAIT_S = 10;
const REFRESH_MS = 20_000;
/** Problems about one field, by their `code`. */
const MT5_CODES = { credentials_rejected: "password" };
const EXCHANGE_CODES = { credentials_rejected: "api_key" };

const LABELS = { mt5: "MetaTrader 5", demo: "Demo", live: "Live", testnet: "Testnet", binance: "Binance", bybit: "Bybit", okx: "OKX" };
const label = (v) => LABELS[v] || v;

function permissionsList(permissions) {
  const entries = Object.entries(permissions || {});
  if (!entries.length) return "—";
  return entries
    .map(([k, v]) => (typeof v === "boolean" ? `${k.replace(/_/g, " ")}: ${v ? "yes" : "no"}` : `${k.replace(/_/g, " ")}: ${v}`))
    .join(", ");
}

function card(ctx, account, { onChanged }) {
  const titleId = `account-${account.id}`;
  const progress = h("p", { class: "progress", role: "status", hidden: true });
  const problem = h("p", { class: "form-error", role: "alert", hidden: true });
  const say = (el, text) => { el.textContent = text || ""; el.hidden = !text; };

  const act = (button, busyLabel, work) =>
    busy(button, busyLabel, async () => {
      say(problem, "");
      try {
        await work();
      } catch (error) {
        say(problem, error.detail || String(error));
      } finally {
        say(progress, "");
      }
      onChanged();
    });

  // Verify/switch answer 202 when the worker is slow: say so and follow the job.
  const untilDone = async (answer) => {
    if (answer.status !== 202) return;
    say(progress, "The worker is still on it…");
    const job = await followJob(ctx, answer.data.job, (j) => say(progress, `The worker is still on it (${j.status})…`));
    if (job.status !== "succeeded") throw { detail: describeJob(job) };
  };

  const makeDefault = h("button", { type: "button", class: "secondary", disabled: account.is_default || account.status !== "verified" }, "Make default");
  makeDefault.addEventListener("click", () =>
    act(makeDefault, "Switching…", async () => untilDone(await ctx.api.post(`/v1/accounts/${account.id}/switch?wait=${CONNECT_WAIT_S}`))),
  );
  const verify = h("button", { type: "button", class: "secondary" }, "Verify again");
  verify.addEventListener("click", () =>
    act(verify, "Verifying…", async () => untilDone(await ctx.api.post(`/v1/accounts/${account.id}/verify?wait=${CONNECT_WAIT_S}`))),
  );
  const remove = h("button", { type: "button", class: "danger" }, "Delete");
  remove.addEventListener("click", async () => {
    const sure = await confirmDialog({
      title: `Delete ${account.name}?`,
      body: "Its stored credentials are destroyed and its queued jobs cancelled. Your trade history is kept.",
      confirm: "Delete account",
    });
    if (sure) await act(remove, "Deleting…", () => ctx.api.delete(`/v1/accounts/${account.id}`));
    else remove.focus();
  });

  const balance = account.balance;
  return h(
    "article",
    { class: "card", "aria-labelledby": titleId, dataset: { accountId: account.id } },
    h(
      "header",
      {},
      h("h3", { id: titleId }, account.name),
      h(
        "div",
        { class: "badges" },
        h("span", { class: `badge ${account.status}` }, account.status),
        account.is_default ? h("span", { class: "badge default" }, "default") : null,
        account.is_active ? null : h("span", { class: "badge" }, "switched off"),
      ),
    ),
    account.status_reason ? h("p", { class: "reason" }, account.status_reason) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, account.kind === "mt5" ? "Login" : "API key"),
      h("dd", { class: "mono" }, account.kind === "mt5" ? plain(account.login) : plain(account.api_key)),
      h("dt", {}, "Venue"),
      h("dd", {}, `${label(account.venue)}${account.server ? ` · ${account.server}` : ""} · ${label(account.environment)}`),
      h("dt", {}, "Balance"),
      h("dd", {}, balance ? amount(balance.balance, balance.currency) : "—"),
      balance && balance.equity !== null ? [h("dt", {}, "Equity"), h("dd", {}, amount(balance.equity, balance.currency))] : null,
      h("dt", {}, "Permissions"),
      h("dd", {}, permissionsList(account.permissions)),
      h("dt", {}, "Checked"),
      h("dd", {}, when(account.verified_at)),
    ),
    progress,
    problem,
    h("div", { class: "actions" }, makeDefault, verify, remove),
  );
}

function connectForm(ctx, { onConnected }) {
  const { enums } = ctx.features;
  const mt5 = h(
    "div",
    { class: "grid2", dataset: { kind: "mt5" } },
    field({ label: "Login", name: "login", attrs: { inputmode: "numeric", autocomplete: "off" } }),
    field({ label: "Password", name: "password", type: "password", attrs: { autocomplete: "new-password" } }),
    field({ label: "Server", name: "server", hint: "As your terminal shows it, e.g. MetaQuotes-Demo", attrs: { autocomplete: "off" } }),
    field({
      label: "Environment", name: "environment", type: "select", value: "demo",
      options: enums.mt5Environment.map((v) => ({ value: v, label: label(v) })),
    }),
  );
  const passphrase = field({ label: "Passphrase", name: "passphrase", type: "password", hint: "OKX keys have one", attrs: { autocomplete: "new-password" } });
  const exchange = h(
    "div",
    { class: "grid2", dataset: { kind: "exchange" }, hidden: true },
    field({
      label: "Exchange", name: "exchange", type: "select", value: enums.exchanges[0],
      options: enums.exchanges.map((v) => ({ value: v, label: label(v) })),
    }),
    field({ label: "API key", name: "api_key", attrs: { autocomplete: "off" } }),
    field({ label: "API secret", name: "api_secret", type: "password", attrs: { autocomplete: "new-password" } }),
    passphrase,
    field({
      label: "Environment", name: "environment", type: "select", value: enums.exchangeEnvironment[0],
      options: enums.exchangeEnvironment.map((v) => ({ value: v, label: label(v) })),
    }),
    h("p", { class: "hint" }, "Use a key that can read and trade but never withdraw."),
  );
  const progress = h("p", { class: "progress", role: "status", hidden: true });
  const submit = h("button", { type: "submit" }, "Connect");
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "connect-title" },
    choices({
      legend: "Kind", name: "kind", value: "mt5",
      options: [{ value: "mt5", label: "MT5 login" }, { value: "exchange", label: "Exchange API key" }],
    }),
    field({ label: "Name", name: "name", hint: "Yours to choose, e.g. FTMO demo", attrs: { autocomplete: "off" } }),
    mt5,
    exchange,
    field({ label: "Make it my default account", name: "make_default", type: "checkbox", value: false }),
    progress,
    formError(),
    h("div", { class: "actions" }, submit),
  );

  const sync = () => {
    const kind = values(form).kind;
    mt5.hidden = kind !== "mt5";
    exchange.hidden = kind !== "exchange";
    passphrase.hidden = form.querySelector('[name="exchange"]').value !== "okx";
  };
  form.addEventListener("change", sync);
  sync();

  const forgetSecrets = () => {
    for (const name of ["password", "api_secret", "passphrase", "api_key"]) {
      for (const input of form.querySelectorAll(`[name="${name}"]`)) input.value = "";
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = values(form);
    const body = { kind: v.kind, name: v.name, make_default: v.make_default };
    if (v.kind === "mt5") {
      // A login is a JSON integer; anything else goes as typed, for the API to name the problem.
      if (v.login) body.login = /^\d+$/.test(v.login) ? Number(v.login) : v.login;
      Object.assign(body, { password: v.password, server: v.server, environment: v.environment });
    } else {
      Object.assign(body, { exchange: v.exchange, api_key: v.api_key, api_secret: v.api_secret, environment: v.environment });
      if (v.exchange === "okx") body.passphrase = v.passphrase;
    }
    for (const key of Object.keys(body)) if (body[key] === "") delete body[key];
    const codes = v.kind === "mt5" ? MT5_CODES : EXCHANGE_CODES;
    busy(submit, "Verifying with the broker…", async () => {
      clearErrors(form);
      progress.hidden = false;
      progress.textContent = "Sending the credentials; the worker logs in to check them…";
      try {
        const answer = await ctx.api.post(`/v1/accounts?wait=${CONNECT_WAIT_S}`, body);
        forgetSecrets();
        if (answer.status === 202) {
          const { account, job } = answer.data;
          progress.textContent = `Still verifying ${account.name} with the broker (${job.status})…`;
          onConnected();
          const done = await followJob(ctx, job, (j) => {
            progress.textContent = `Still verifying ${account.name} with the broker (${j.status})…`;
          });
          if (done.status !== "succeeded") {
            showProblem(form, { detail: describeJob(done), code: done.error?.code }, codes);
            return;
          }
          ctx.announce(`${account.name} is connected`);
        } else {
          ctx.announce(`${answer.data.name} is connected and ${answer.data.status}`);
        }
        form.querySelector('[name="name"]').value = "";
        if (v.kind === "mt5") form.querySelector('[name="login"]').value = "";
        onConnected();
      } catch (error) {
        if (error.name !== "ApiError") throw error;
        // Kept only to correct another field (a validation problem) or to retry after a
        // network failure; any other answer was about these credentials: they are gone.
        if (error.status !== 0 && !error.errors.length) forgetSecrets();
        showProblem(form, error, codes);
      } finally {
        progress.hidden = true;
      }
    });
  });
  return form;
}

export function render(ctx, root) {
  const list = h("div", { class: "cards", "aria-live": "polite" }, h("p", { class: "empty" }, "Loading accounts…"));
  const listError = h("p", { class: "form-error", role: "alert", hidden: true });
  let timer = null;
  let disposed = false;

  const load = async () => {
    try {
      const { data } = await ctx.api.get("/v1/accounts");
      if (disposed) return;
      listError.hidden = true;
      if (!data.length) {
        replace(list, h("p", { class: "empty" }, "No accounts yet: connect one below."));
      } else {
        replace(list, data.map((a) => card(ctx, a, { onChanged: load })));
      }
    } catch (error) {
      if (disposed) return;
      listError.textContent = error.detail || String(error);
      listError.hidden = false;
    }
  };
  const poll = () => {
    timer = setTimeout(async () => {
      if (!ctx.events.live) await load();
      if (!disposed) poll();
    }, REFRESH_MS);
  };
  const off = ctx.events.on((event) => {
    if (event.type === "account") load();
  });

  replace(
    root,
    h("h1", {}, "Accounts"),
    h("section", { "aria-label": "Your accounts" }, listError, list),
    h(
      "section",
      { class: "panel", "aria-labelledby": "connect-title" },
      h("h2", { id: "connect-title" }, "Connect an account"),
      connectForm(ctx, { onConnected: load }),
    ),
  );
  load();
  poll();
  return () => {
    disposed = true;
    off();
    clearTimeout(timer);
  };
}
