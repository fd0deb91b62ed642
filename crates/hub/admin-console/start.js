// Wiring, once every part is defined.
async function start() {
  translatePage();
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", signOut);
  $("upload").addEventListener("submit", upload);
  $("usage-form").addEventListener("submit", loadUsage);
  document.querySelectorAll("[data-lang]").forEach(b => b.addEventListener("click", () => setLanguage(b.dataset.lang)));
  window.addEventListener("hashchange", route);
  const me = await api("/api/admin/me");
  if (me.ok) signedIn(me.body); else showLogin();
}

document.addEventListener("DOMContentLoaded", start);
