// The configuration in force, what changed since the previous one, and
// the upload of a bundle signed offline (the signing key never reaches
// the hub: only the signed file does).

function when(at) {
  return new Date(at).toLocaleString(lang === "en" ? "en-GB" : "fr-FR", { dateStyle: "long", timeStyle: "short" });
}

async function showConfig() {
  $("config").hidden = false;
  $("upload").hidden = !page.me.permissions.includes("publish");
  await loadConfig();
}

async function loadConfig() {
  const r = await api("/api/admin/config");
  if (!r.ok) return r.status === 401 ? null : notice(r.status === 403 ? t("error.403") : t("error.load", { status: r.status }));
  const { published: p, previous, changes } = r.body;
  $("config-current").textContent = p
    ? t("config.current", { version: p.version, by: p.published_by, at: when(p.published_at), key: p.key_id, size: p.size })
    : t("config.none");
  $("config-previous").textContent = previous
    ? t("config.previous", { version: previous.version, by: previous.published_by, at: when(previous.published_at) })
    : (p ? t("config.first") : "");
  const rows = (changes || []).map(c => el("tr", { "data-testid": "config-change" },
    el("th", { scope: "row" }, el("code", {}, c.path)),
    el("td", {}, t("change." + c.kind)),
    el("td", {}, c.before ? el("code", {}, c.before) : "—"),
    el("td", {}, c.after ? el("code", {}, c.after) : "—")));
  if (changes && rows.length === 0) rows.push(el("tr", {}, el("td", { colSpan: 4, class: "muted" }, t("config.no-changes"))));
  $("config-changes").replaceChildren(...rows);
  $("config-diff").hidden = !changes;
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  const out = $("upload-result");
  out.className = "";
  out.replaceChildren(t("upload.sending"));
  const r = await api("/api/admin/config", { method: "PUT", headers: { "content-type": "application/json" }, body: await file.text() });
  if (r.status === 201) {
    out.className = "ok";
    out.replaceChildren(t("upload.published", { version: r.body.version, n: r.body.announced_to || 0 }));
    $("upload-file").value = "";
    return loadConfig();
  }
  if (r.status === 200) {
    out.replaceChildren(t("upload.already", { version: r.body.version }));
    return null;
  }
  if (r.status === 401) return null;
  const code = (r.body && r.body.code) || "";
  const headline = WORDS.fr["upload.code." + code] ? t("upload.code." + code) : t("error.load", { status: r.status });
  out.className = "refused";
  out.replaceChildren(
    el("p", { class: "error", "data-testid": "upload-refused" }, headline + " " + t("upload.refused")),
    el("p", {}, t("upload.detail")),
    el("pre", { "data-testid": "upload-detail" }, (r.body && r.body.error) || ""));
}

SECTIONS.config = showConfig;
