// Wiring, once every part is defined.
document.addEventListener("DOMContentLoaded", () => {
  $("upload").addEventListener("submit", upload);
  $("usage-form").addEventListener("submit", loadUsage);
  window.addEventListener("hashchange", route);
  startPage({
    lang: "visio-admin-lang",
    views: ["nav", "fleet", "kiosk", "config", "usage"],
    who: me => me.display_name + " · " + t("who.role." + me.role),
    signedIn: showSections,
    signedOut: () => clearInterval(state.refresh),
    // The role's name and the section shown, in the new language.
    language: () => { if (page.me) signedIn(page.me); },
  });
});
