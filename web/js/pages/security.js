// Security: a TOTP second factor (enrol with the QR code or the secret, verify, remove),
// through supabase-js against Supabase Auth; and personal API tokens for scripts
// (/v1/api-tokens) where the API serves them. A new token is shown once, never again.

import { busy, clearErrors, confirmDialog, field, formError, h, replace, showProblem, values } from "../dom.js";
import { authProblem } from "../auth.js";
import { when } from "../format.js";
import { table } from "./history.js";

const SCOPES = [
  { value: "read", label: "Read: accounts, trades, events" },
  { value: "trade", label: "Trade: place, close, modify, cancel" },
  { value: "accounts", label: "Accounts: connect and change accounts" },
];

/**
 * supabase-js hands the QR code over as `data:image/svg+xml;utf-8,<svg…>`, the SVG not
 * percent-encoded: an SVG holding `#` (a colour) would end the URL there. Encode it.
 */
export function qrSource(qr) {
  const prefix = "data:image/svg+xml;utf-8,";
  const svg = qr.startsWith(prefix) ? qr.slice(prefix.length) : qr.startsWith("<") ? qr : null;
  return svg === null ? qr : `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function mfaSection(ctx) {
  const section = h("section", { class: "panel", "aria-labelledby": "mfa-title" });
  const draw = async () => {
    const { data, error } = await ctx.client.auth.mfa.listFactors();
    const problem = formError();
    if (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    }
    const verified = (data?.totp || []).filter((f) => f.status === "verified");
    const enrol = h("button", { type: "button" }, "Set up an authenticator app");
    enrol.addEventListener("click", () => busy(enrol, "Preparing…", () => startEnrolment(section, problem)));
    replace(
      section,
      h("h2", { id: "mfa-title" }, "Two-factor authentication"),
      verified.length
        ? h("ul", {}, verified.map((f) => {
          const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove ${f.friendly_name || "authenticator"}` }, "Remove");
          remove.addEventListener("click", async () => {
            const sure = await confirmDialog({ title: "Remove this authenticator?", body: "Signing in will ask for your password only.", confirm: "Remove" });
            if (!sure) return;
            const { error: err } = await ctx.client.auth.mfa.unenroll({ factorId: f.id });
            if (err) {
              problem.textContent = err.message;
              problem.hidden = false;
            } else draw();
          });
          return h("li", { class: "actions" }, h("span", {}, `${f.friendly_name || "Authenticator app"} · added ${when(f.created_at)}`), remove);
        }))
        : h("p", {}, "Not set up: signing in asks for your password only. Add an authenticator app (TOTP) to ask for a code too."),
      problem,
      verified.length ? null : h("div", { class: "actions" }, enrol),
    );
  };

  const startEnrolment = async (host, problem) => {
    const { data, error } = await ctx.client.auth.mfa.enroll({ factorType: "totp", friendlyName: `Authenticator ${new Date().toLocaleDateString()}` });
    if (error) {
      problem.textContent = error.message;
      problem.hidden = false;
      return;
    }
    const form = h(
      "form",
      { novalidate: true, "aria-labelledby": "enrol-title" },
      h("h3", { id: "enrol-title" }, "Scan the code with your authenticator app"),
      h("img", { class: "qr", src: qrSource(data.totp.qr_code), alt: "QR code for your authenticator app" }),
      h("p", {}, "Or type this secret into the app: ", h("code", { class: "totp-secret" }, data.totp.secret)),
      field({ label: "Authentication code", name: "code", attrs: { inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6 } }),
      formError(),
    );
    const verify = h("button", { type: "submit" }, "Verify and turn on");
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    form.append(h("div", { class: "actions" }, verify, cancel));
    cancel.addEventListener("click", async () => {
      await ctx.client.auth.mfa.unenroll({ factorId: data.id });
      draw();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(verify, "Verifying…", async () => {
        clearErrors(form);
        const { error: err } = await ctx.client.auth.mfa.challengeAndVerify({ factorId: data.id, code: values(form).code });
        if (err) return showProblem(form, authProblem(err));
        ctx.announce("Two-factor authentication is on");
        await draw();
      });
    });
    replace(host, h("h2", { id: "mfa-title" }, "Two-factor authentication"), form);
    form.querySelector("input").focus();
  };

  draw();
  return section;
}

function tokensSection(ctx) {
  const list = h("div", {});
  const shown = h("div", {});
  const load = async () => {
    const { data } = await ctx.api.get("/v1/api-tokens");
    const items = Array.isArray(data) ? data : data.items || [];
    replace(list, table("Your API tokens", [
      { label: "Name", value: (t) => t.name },
      { label: "Scopes", value: (t) => (t.scopes || []).join(", ") },
      { label: "Expires", value: (t) => when(t.expires_at) },
      { label: "Actions", value: (t) => {
        const revoke = h("button", { type: "button", class: "danger", "aria-label": `Revoke ${t.name}` }, "Revoke");
        revoke.addEventListener("click", async () => {
          const sure = await confirmDialog({ title: `Revoke ${t.name}?`, body: "Scripts using it are refused at once.", confirm: "Revoke" });
          if (sure) await busy(revoke, "Revoking…", () => ctx.api.delete(`/v1/api-tokens/${t.id}`).catch(() => null));
          load();
        });
        return revoke;
      } },
    ], items));
  };
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "token-new-title" },
    h("h3", { id: "token-new-title" }, "Create a token"),
    field({ label: "Name", name: "name", attrs: { autocomplete: "off" }, hint: "What will use it, e.g. cron" }),
    h("fieldset", { class: "field", dataset: { field: "scopes" } }, h("legend", {}, "Scopes"),
      SCOPES.map((s) => field({ label: s.label, name: `scope_${s.value}`, type: "checkbox", value: s.value === "read" })),
      h("p", { class: "field-error", hidden: true })),
    field({ label: "Expires in (days)", name: "expires_in_days", value: "90", attrs: { inputmode: "numeric" } }),
    formError(),
  );
  const create = h("button", { type: "submit" }, "Create token");
  form.append(h("div", { class: "actions" }, create));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = values(form);
    const body = { name: v.name, scopes: SCOPES.filter((s) => v[`scope_${s.value}`]).map((s) => s.value) };
    if (v.expires_in_days) body.expires_in_days = /^\d+$/.test(v.expires_in_days) ? Number(v.expires_in_days) : v.expires_in_days;
    busy(create, "Creating…", async () => {
      clearErrors(form);
      try {
        const { data } = await ctx.api.post("/v1/api-tokens", body);
        replace(shown, h("div", { class: "secret-once", role: "status" },
          h("p", {}, `Token ${data.name}: copy it now, it is not shown again.`),
          h("code", { class: "token-once" }, data.token)));
        form.reset();
        load();
      } catch (error) {
        if (error.name !== "ApiError") throw error;
        showProblem(form, error);
      }
    });
  });
  load().catch((error) => replace(list, h("p", { class: "form-error" }, error.detail || String(error))));
  return h("section", { class: "panel", "aria-labelledby": "tokens-title" }, h("h2", { id: "tokens-title" }, "API tokens for scripts"), shown, list, form);
}

export function render(ctx, root) {
  replace(root, h("h1", {}, "Security"), mfaSection(ctx), ctx.features.apiTokens ? tokensSection(ctx) : null);
  return () => {};
}
