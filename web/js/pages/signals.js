// Signal channels (a TradingView webhook and its secret, shown once) and your subscriptions
// (an account following a channel, with its sizing and symbol mapping). Shown only where
// the API serves /v1/signal-channels and /v1/subscriptions.

import { busy, clearErrors, confirmDialog, field, formError, h, replace, showProblem, values } from "../dom.js";
import { plain } from "../format.js";
import { table } from "./history.js";

const items = (data) => (Array.isArray(data) ? data : data.items || []);

/** "EURUSD=EURUSD" lines → {"EURUSD": "EURUSD"}; a line without "=" maps a symbol to itself. */
export function symbolMap(text) {
  const out = {};
  for (const line of text.split(/\n|,/).map((l) => l.trim()).filter(Boolean)) {
    const [from, to] = line.split("=").map((s) => s.trim());
    out[from] = to || from;
  }
  return out;
}

function deleteButton(ctx, label, path, after) {
  const button = h("button", { type: "button", class: "danger", "aria-label": `Delete ${label}` }, "Delete");
  button.addEventListener("click", async () => {
    if (!(await confirmDialog({ title: `Delete ${label}?`, body: "This cannot be undone.", confirm: "Delete" }))) return;
    await busy(button, "Deleting…", () => ctx.api.delete(path).catch(() => null));
    after();
  });
  return button;
}

function channelsSection(ctx, onChange) {
  const list = h("div", {});
  const shown = h("div", {});
  const reveal = (channel) => replace(shown, h("div", { class: "secret-once", role: "status" },
    h("p", {}, `Webhook of ${channel.name}: put the secret in the alert's JSON body; it is not shown again.`),
    h("p", {}, "URL: ", h("code", {}, plain(channel.webhook_url))),
    h("p", {}, "Secret: ", h("code", { class: "secret-value" }, plain(channel.secret)))));
  const load = async () => {
    const { data } = await ctx.api.get("/v1/signal-channels");
    replace(list, table("Channels you own or follow", [
      { label: "Name", value: (c) => c.name },
      { label: "Public", value: (c) => (c.public ? "yes" : "no") },
      { label: "Webhook", value: (c) => h("code", {}, plain(c.webhook_url)) },
      { label: "Actions", value: (c) => {
        if (c.webhook_url == null) return "—"; // a channel you follow: no secret to rotate
        const rotate = h("button", { type: "button", class: "secondary", "aria-label": `Rotate the secret of ${c.name}` }, "Rotate secret");
        rotate.addEventListener("click", () => busy(rotate, "Rotating…", async () => {
          try {
            const { data: rotated } = await ctx.api.post(`/v1/signal-channels/${c.id}/rotate`);
            reveal({ ...c, ...rotated });
          } catch (error) {
            replace(shown, h("p", { class: "form-error" }, error.detail));
          }
        }));
        return h("div", { class: "actions" }, rotate, deleteButton(ctx, c.name, `/v1/signal-channels/${c.id}`, load));
      } },
    ], items(data)));
    onChange(items(data));
  };
  const form = h("form", { novalidate: true, "aria-labelledby": "channel-new-title" },
    h("h3", { id: "channel-new-title" }, "Create a channel"),
    field({ label: "Name", name: "name", attrs: { autocomplete: "off" } }),
    field({ label: "Public: anyone may subscribe", name: "public", type: "checkbox", value: false }),
    formError());
  const create = h("button", { type: "submit" }, "Create channel");
  form.append(h("div", { class: "actions" }, create));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = values(form);
    busy(create, "Creating…", async () => {
      clearErrors(form);
      try {
        const { data } = await ctx.api.post("/v1/signal-channels", { name: v.name, public: v.public });
        reveal(data);
        form.reset();
        load();
      } catch (error) {
        if (error.name !== "ApiError") throw error;
        showProblem(form, error);
      }
    });
  });
  load().catch((error) => replace(list, h("p", { class: "form-error" }, error.detail || String(error))));
  return h("section", { class: "panel", "aria-labelledby": "channels-title" }, h("h2", { id: "channels-title" }, "Signal channels"), shown, list, form);
}

function subscriptionsSection(ctx) {
  const list = h("div", {});
  const channelField = field({ label: "Channel", name: "channel_id", type: "select", options: [] });
  const accountField = field({ label: "Account", name: "account_id", type: "select", options: [] });
  const volume = field({ label: "Volume", name: "volume", value: "0.01", attrs: { inputmode: "decimal" } });
  const percent = field({ label: "Percent", name: "percent", value: "1", attrs: { inputmode: "decimal" } });
  const form = h("form", { novalidate: true, "aria-labelledby": "sub-new-title" },
    h("h3", { id: "sub-new-title" }, "Subscribe an account"),
    h("div", { class: "grid2" }, channelField, accountField,
      field({ label: "Sizing", name: "mode", type: "select", value: "fixed", options: [
        { value: "fixed", label: "Fixed volume" }, { value: "balance_pct", label: "% of balance" }, { value: "risk_pct", label: "% risked to the stop" }] }),
      volume, percent),
    field({ label: "Symbols", name: "symbols", type: "textarea", value: "EURUSD=EURUSD", hint: "One per line: the signal's symbol=your venue's symbol" }),
    field({ label: "Trade automatically", name: "auto_trade", type: "checkbox", value: true }),
    formError());
  const sync = () => {
    const mode = form.querySelector('[name="mode"]').value;
    volume.hidden = mode !== "fixed";
    percent.hidden = mode === "fixed";
  };
  form.addEventListener("change", sync);
  sync();
  const subscribe = h("button", { type: "submit" }, "Subscribe");
  form.append(h("div", { class: "actions" }, subscribe));

  const load = async () => {
    const [{ data }, { data: accounts }] = await Promise.all([ctx.api.get("/v1/subscriptions"), ctx.api.get("/v1/accounts")]);
    replace(accountField.querySelector("select"), accounts.map((a) => h("option", { value: a.id }, a.name)));
    const names = new Map(accounts.map((a) => [a.id, a.name]));
    replace(list, table("Your subscriptions", [
      { label: "Channel", value: (s) => plain(s.channel_name || s.channel_id) },
      { label: "Account", value: (s) => names.get(s.account_id) || plain(s.account_id) },
      { label: "Sizing", value: (s) => (s.sizing ? `${s.sizing.mode} ${s.sizing.volume ?? s.sizing.percent ?? ""}` : "—") },
      { label: "Auto trade", value: (s) => (s.auto_trade ? "on" : "off") },
      { label: "Actions", value: (s) => deleteButton(ctx, "this subscription", `/v1/subscriptions/${s.id}`, load) },
    ], items(data)));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = values(form);
    const sizing = v.mode === "fixed" ? { mode: "fixed", volume: v.volume } : { mode: v.mode, percent: v.percent };
    const body = { channel_id: v.channel_id, account_id: v.account_id, sizing, symbols: symbolMap(v.symbols), auto_trade: v.auto_trade };
    busy(subscribe, "Subscribing…", async () => {
      clearErrors(form);
      try {
        await ctx.api.post("/v1/subscriptions", body);
        load();
      } catch (error) {
        if (error.name !== "ApiError") throw error;
        showProblem(form, error);
      }
    });
  });
  load().catch((error) => replace(list, h("p", { class: "form-error" }, error.detail || String(error))));
  return {
    section: h("section", { class: "panel", "aria-labelledby": "subs-title" }, h("h2", { id: "subs-title" }, "Subscriptions"), list, form),
    channels: (channels) => replace(channelField.querySelector("select"), channels.map((c) => h("option", { value: c.id }, c.name))),
  };
}

export function render(ctx, root) {
  const subs = ctx.features.subscriptions ? subscriptionsSection(ctx) : null;
  const channels = ctx.features.signalChannels ? channelsSection(ctx, (list) => subs?.channels(list)) : null;
  replace(root, h("h1", {}, "Signals"), channels, subs?.section);
  return () => {};
}
