// Sign-in, the sections (one per permission), and small helpers.

const state = { me: null, section: null, refresh: null };

const $ = id => document.getElementById(id);

/// An element with attributes and children (strings become text: never HTML).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/// "il y a 3 min", from the hub's clock (`now`), not the browser's.
function age(now, at) {
  const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(at)) / 1000));
  if (s < 90) return t("age.seconds", { n: s });
  if (s < 90 * 60) return t("age.minutes", { n: Math.round(s / 60) });
  if (s < 36 * 3600) return t("age.hours", { n: Math.round(s / 3600) });
  return t("age.days", { n: Math.round(s / 86400) });
}

/// JSON from the admin API; a 401 takes the page back to the sign-in.
async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  let body = null;
  try { body = await response.json(); } catch (_) { /* no body */ }
  if (response.status === 401 && path !== "/api/admin/login") showLogin();
  return { status: response.status, ok: response.ok, body };
}

function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function showLogin() {
  state.me = null;
  clearInterval(state.refresh);
  for (const id of ["nav", "who", "fleet", "kiosk", "config", "usage"]) if ($(id)) $(id).hidden = true;
  $("login").hidden = false;
  $("login-user").focus();
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  let result;
  try {
    result = await api("/api/admin/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: $("login-user").value, password: $("login-password").value }),
    });
  } catch (_) {
    $("login-error").textContent = t("login.network");
    return;
  }
  if (result.ok) {
    $("login-password").value = "";
    signedIn(result.body);
    return;
  }
  const seconds = /(\d+) s/.exec((result.body && result.body.error) || "");
  const key = ["400", "401", "429", "500"].includes(String(result.status)) ? "login." + result.status : "login.other";
  $("login-error").textContent = t(key, { status: result.status, seconds: seconds ? seconds[1] : "?" });
}

function signedIn(me) {
  state.me = me;
  $("login").hidden = true;
  $("who").hidden = false;
  $("nav").hidden = false;
  $("who-name").textContent = me.display_name + " · " + t("who.role." + me.role);
  document.querySelectorAll("[data-needs]").forEach(a => { a.hidden = !me.permissions.includes(a.dataset.needs); });
  route();
}

async function signOut() {
  await api("/api/admin/logout", { method: "POST" });
  showLogin();
}

/// The section named by the address (#/fleet, #/kiosk/<id>, #/config,
/// #/usage); the first the role may see by default.
function route() {
  if (!state.me) return;
  const [, section, arg] = (location.hash || "").split("/");
  const allowed = state.me.permissions;
  const wanted = section === "kiosk" ? "fleet" : section;
  const first = ["fleet", "config", "usage"].find(p => allowed.includes(p));
  const target = allowed.includes(wanted) ? section : first;
  notice("");
  for (const id of ["fleet", "kiosk", "config", "usage"]) if ($(id)) $(id).hidden = true;
  document.querySelectorAll("#nav a").forEach(a => {
    if (a.getAttribute("href") === "#/" + (target === "kiosk" ? "fleet" : target)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  clearInterval(state.refresh);
  state.section = target;
  const show = SECTIONS[target];
  if (show) show(arg ? decodeURIComponent(arg) : null);
}

/// Filled by the later parts: section name → function showing it.
const SECTIONS = {};

function setLanguage(l) {
  lang = l;
  localStorage.setItem("visio-admin-lang", l);
  translatePage();
  if (state.me) signedIn(state.me);
}
