// The dashboard: config → supabase-js session → the functions' API, page by page.
// Pages are routed by the URL's hash (#/accounts), so any static host serves it as is.

import { Api } from "./api.js";
import { codeView, needsCode, signInView, stepUpDialog } from "./auth.js";
import { announce, h, replace } from "./dom.js";
import { EventStream } from "./events.js";
import { discover } from "./features.js";
import * as accounts from "./pages/accounts.js";
import * as charts from "./pages/charts.js";
import * as history from "./pages/history.js";
import * as positions from "./pages/positions.js";
import * as security from "./pages/security.js";
import * as signals from "./pages/signals.js";
import * as trade from "./pages/trade.js";

const PAGES = [
  { path: "accounts", title: "Accounts", page: accounts },
  { path: "trade", title: "Trade", page: trade },
  { path: "positions", title: "Positions", page: positions, shown: (f) => f.positions },
  { path: "history", title: "History", page: history },
  { path: "charts", title: "Equity & P&L", page: charts, shown: (f) => f.equity || f.pnl },
  { path: "security", title: "Security", page: security },
  { path: "signals", title: "Signals", page: signals, shown: (f) => f.signalChannels || f.subscriptions },
];

const MODE_TEXT = {
  live: "Live updates",
  polling: "Updates by polling",
  connecting: "Connecting…",
};

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  const config = await response.json();
  for (const key of ["supabase_url", "anon_key", "functions_url"]) {
    if (typeof config[key] !== "string" || !config[key]) throw new Error(`config.json lacks ${key}`);
  }
  return config;
}

function configProblem(main, error) {
  replace(
    main,
    h(
      "section",
      { class: "panel narrow", role: "alert" },
      h("h1", {}, "The dashboard is not configured"),
      h("p", {}, String(error.message || error)),
      h("p", {}, "Put a config.json beside index.html with supabase_url, anon_key and functions_url."),
    ),
  );
}

async function boot() {
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  const sessionBar = document.getElementById("session");
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    configProblem(main, error);
    return;
  }
  const client = window.supabase.createClient(config.supabase_url, config.anon_key, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false, storageKey: "switchyard.auth" },
  });
  const features = await discover(config.functions_url);
  let signedIn = false;
  let current = null; // {path, dispose}

  const session = {
    async token() {
      const { data } = await client.auth.getSession();
      return data.session?.access_token ?? null;
    },
    async refresh() {
      const { data, error } = await client.auth.refreshSession();
      return !error && Boolean(data.session);
    },
    expired(detail) {
      if (signedIn) signOut(`Your session ended (${detail}); sign in again.`);
    },
    stepUp: () => stepUpDialog(client),
  };
  const api = new Api(config.functions_url, session);
  let events = new EventStream(api);
  const ctx = { api, client, config, features, get events() { return events; }, navigate, announce };

  function navigate(path) {
    window.location.hash = `#/${path}`;
  }

  function visiblePages() {
    return PAGES.filter((p) => !p.shown || p.shown(features));
  }

  function renderNav() {
    replace(
      nav,
      visiblePages().map((p) => h("a", { href: `#/${p.path}`, dataset: { path: p.path } }, p.title)),
    );
  }

  function route() {
    if (!signedIn) return;
    const wanted = window.location.hash.replace(/^#\/?/, "") || "accounts";
    const entry = visiblePages().find((p) => p.path === wanted) || visiblePages()[0];
    current?.dispose?.();
    for (const link of nav.querySelectorAll("a")) {
      if (link.dataset.path === entry.path) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${entry.title} · switchyard`;
    main.replaceChildren();
    const dispose = entry.page.render(ctx, main);
    current = { path: entry.path, dispose };
    main.focus({ preventScroll: true });
  }

  async function enterApp() {
    const { data } = await client.auth.getUser();
    signedIn = true;
    document.getElementById("who").textContent = data.user?.email || "";
    renderNav();
    nav.hidden = false;
    sessionBar.hidden = false;
    events = new EventStream(api);
    const live = document.getElementById("live");
    events.onMode((mode) => {
      live.dataset.mode = mode;
      live.textContent = MODE_TEXT[mode] || mode;
    });
    events.on((event) => {
      // The id the stream resumes from (Last-Event-ID), shown to whoever inspects the page.
      if (event.id) live.dataset.lastEventId = event.id;
      // Events older than the server keeps were pruned: what the page shows may be stale.
      if (event.type === "reset") route();
    });
    events.start();
    route();
  }

  async function afterSignIn() {
    if (await needsCode(client)) {
      codeView(main, client, { onVerified: enterApp, onSignOut: () => signOut() });
    } else {
      await enterApp();
    }
  }

  function leaveApp() {
    signedIn = false;
    current?.dispose?.();
    current = null;
    events.stop();
    nav.hidden = true;
    sessionBar.hidden = true;
    document.getElementById("who").textContent = "";
    document.title = "Sign in · switchyard";
  }

  async function signOut(notice) {
    leaveApp();
    const { error } = await client.auth.signOut();
    if (error && !notice) notice = `Signed out here; the server said: ${error.message}`;
    showSignIn(notice);
  }

  function showSignIn(notice) {
    leaveApp();
    signInView(main, client, { onSignedIn: afterSignIn, notice });
  }

  document.getElementById("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  client.auth.onAuthStateChange((event) => {
    // Another tab signed out: follow it (never await supabase calls inside this callback).
    if (event === "SIGNED_OUT" && signedIn) setTimeout(() => showSignIn(), 0);
  });

  const { data } = await client.auth.getSession();
  if (data.session) await afterSignIn();
  else showSignIn();
}

boot().catch((error) => {
  console.error("the dashboard failed to start", error);
  configProblem(document.getElementById("main"), error);
});
