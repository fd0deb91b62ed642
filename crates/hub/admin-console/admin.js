// The sections (one per permission), and small helpers. Sign-in and the
// header are /common/page.js's.

const state = { section: null, refresh: null };

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

/// Once signed in: the sections the role may use, then the one asked for.
function showSections(me) {
  $("nav").hidden = false;
  document.querySelectorAll("[data-needs]").forEach(a => { a.hidden = !me.permissions.includes(a.dataset.needs); });
  route();
}

/// The section named by the address (#/fleet, #/kiosk/<id>, #/config,
/// #/usage); the first the role may see by default.
function route() {
  if (!page.me) return;
  const [, section, arg] = (location.hash || "").split("/");
  const allowed = page.me.permissions;
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
