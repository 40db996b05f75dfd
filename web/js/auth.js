// Signing in with supabase-js: sign-up, password sign-in, the TOTP code when the user has
// a verified factor, and a step-up to aal2 when the API asks for a second factor.

import { busy, clearErrors, field, formError, h, replace, showProblem, values } from "./dom.js";

/** A supabase-js AuthError as the problem shape showProblem() reads. */
export function authProblem(error) {
  const message = error?.message || "sign-in failed";
  const code = error?.code || "";
  let fieldName = null;
  if (/code|totp|factor/i.test(`${code} ${message}`)) fieldName = "code";
  else if (/password|credentials/i.test(`${code} ${message}`)) fieldName = "password";
  else if (/email|user/i.test(`${code} ${message}`)) fieldName = "email";
  return { detail: message, errors: fieldName ? [{ field: fieldName, message }] : [] };
}

/** The verified TOTP factor of the signed-in user, if any. */
export async function verifiedTotp(client) {
  const { data, error } = await client.auth.mfa.listFactors();
  if (error) throw error;
  return (data?.totp || []).find((f) => f.status === "verified") || null;
}

/** True when the user has a second factor this session has not presented yet. */
export async function needsCode(client) {
  const { data, error } = await client.auth.mfa.getAuthenticatorAssuranceLevel();
  if (error) return false;
  return data.nextLevel === "aal2" && data.currentLevel !== "aal2";
}

export function signInView(root, client, { onSignedIn, notice }) {
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "signin-title" },
    field({ label: "Email", name: "email", type: "email", attrs: { autocomplete: "username", required: true } }),
    field({
      label: "Password", name: "password", type: "password",
      attrs: { autocomplete: "current-password", required: true },
    }),
    formError(),
  );
  const signIn = h("button", { type: "submit" }, "Sign in");
  const signUp = h("button", { type: "button", class: "secondary" }, "Create account");
  form.append(h("div", { class: "actions" }, signIn, signUp));

  const run = (button, label, call) =>
    busy(button, label, async () => {
      clearErrors(form);
      const { email, password } = values(form);
      const { data, error } = await call({ email, password });
      if (error) {
        showProblem(form, authProblem(error));
        return;
      }
      if (!data.session) {
        showProblem(form, { detail: "check your inbox to confirm the address, then sign in" });
        return;
      }
      form.reset();
      await onSignedIn();
    });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(signIn, "Signing in…", (c) => client.auth.signInWithPassword(c));
  });
  signUp.addEventListener("click", () => run(signUp, "Creating account…", (c) => client.auth.signUp(c)));

  replace(
    root,
    h(
      "section",
      { class: "panel narrow" },
      h("h1", { id: "signin-title" }, "Sign in to switchyard"),
      notice ? h("p", { class: "form-error", role: "alert" }, notice) : null,
      h("p", { class: "hint" }, "New here? Enter an email and a password, then choose Create account."),
      form,
    ),
  );
  form.querySelector("input").focus();
}

/** The TOTP step: resolves once the session is aal2 (or the person gave up). */
export function codeForm(client, { onVerified, onCancel, title = "Enter your authentication code" }) {
  const titleId = `code-title-${Math.random().toString(36).slice(2)}`;
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": titleId },
    h("h2", { id: titleId }, title),
    h("p", { class: "hint" }, "Your account has a second factor: open your authenticator app."),
    field({
      label: "Authentication code", name: "code",
      attrs: { inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true },
    }),
    formError(),
  );
  const verify = h("button", { type: "submit" }, "Verify");
  const cancel = h("button", { type: "button", class: "secondary" }, onCancel.label);
  form.append(h("div", { class: "actions" }, verify, cancel));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(verify, "Verifying…", async () => {
      clearErrors(form);
      const factor = await verifiedTotp(client).catch(() => null);
      if (!factor) {
        showProblem(form, { detail: "no verified authenticator is enrolled for this account" });
        return;
      }
      const { error } = await client.auth.mfa.challengeAndVerify({
        factorId: factor.id, code: values(form).code,
      });
      if (error) {
        showProblem(form, authProblem(error));
        return;
      }
      await onVerified();
    });
  });
  cancel.addEventListener("click", () => onCancel.run());
  return form;
}

export function codeView(root, client, { onVerified, onSignOut }) {
  const form = codeForm(client, { onVerified, onCancel: { label: "Sign out", run: onSignOut } });
  replace(root, h("section", { class: "panel narrow" }, form));
  form.querySelector("input").focus();
}

/** A dialog asking for the code when the API wants aal2; resolves true once verified. */
export function stepUpDialog(client) {
  return new Promise((resolve) => {
    const dialog = h("dialog", {});
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const form = codeForm(client, {
      title: "This needs your second factor",
      onVerified: async () => done(true),
      onCancel: { label: "Cancel", run: () => done(false) },
    });
    dialog.setAttribute("aria-labelledby", form.getAttribute("aria-labelledby"));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(false);
    });
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
    form.querySelector("input").focus();
  });
}
