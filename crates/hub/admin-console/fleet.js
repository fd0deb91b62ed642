// The fleet, the kiosks needing attention first, and one kiosk's page.
// Both refresh every few seconds while shown.

const REFRESH_MS = 5000;

function stateText(k) {
  if (!k.enrolled) return t("fleet.unenrolled");
  return k.online ? t("fleet.online") : t("fleet.offline");
}

function configText(k, published) {
  if (k.config_version === undefined || k.config_version === null) return "—";
  if (published && k.config_version !== published.version) {
    return t("config.behind", { v: k.config_version, published: published.version });
  }
  return t("config.version", { v: k.config_version });
}

async function showFleet() {
  $("fleet").hidden = false;
  await loadFleet();
  state.refresh = setInterval(loadFleet, REFRESH_MS);
}

async function loadFleet() {
  const r = await api("/api/fleet?order=attention");
  if (!r.ok) return r.status === 401 ? null : notice(r.status === 403 ? t("error.403") : t("error.load", { status: r.status }));
  if (state.section !== "fleet") return;
  const view = r.body;
  const rows = view.kiosks.map(k => {
    const attention = k.attention || [];
    return el("tr", { class: attention.length ? "attention" : null, "data-testid": "fleet-row", "data-kiosk": k.kiosk_id },
      el("th", { scope: "row" }, el("a", { href: "#/kiosk/" + encodeURIComponent(k.kiosk_id) }, k.site + " (" + k.kiosk_id + ")")),
      el("td", { class: k.online ? "ok" : "bad" }, stateText(k)),
      el("td", { "data-testid": "fleet-attention" },
        attention.length ? attention.map(c => el("span", { class: "tag " + c }, t("concern." + c))) : el("span", { class: "muted" }, t("fleet.all-well"))),
      el("td", {}, k.last_heartbeat_at ? age(view.now, k.last_heartbeat_at) : t("fleet.never")),
      el("td", {}, k.app_version || "—"),
      el("td", {}, configText(k, view.published)));
  });
  $("fleet-rows").replaceChildren(...rows);
  $("fleet-empty").hidden = rows.length > 0;
  const enrolled = view.kiosks.filter(k => k.enrolled).length;
  const online = view.kiosks.filter(k => k.online).length;
  const attention = view.kiosks.filter(k => (k.attention || []).length).length;
  $("fleet-summary").textContent = t("fleet.summary", { online, enrolled, attention });
}

async function showKiosk(id) {
  $("kiosk").hidden = false;
  await loadKiosk(id);
  state.refresh = setInterval(() => loadKiosk(id), REFRESH_MS);
}

// "1,9 Mbit/s" in French, "1.9 Mbit/s" in English; kbit/s under 1 Mbit/s.
function uplinkText(kbps) {
  const number = (n, digits) => n.toLocaleString(lang === "en" ? "en-GB" : "fr-FR", { maximumFractionDigits: digits });
  return kbps < 1000 ? number(kbps, 0) + " kbit/s" : number(kbps / 1000, 1) + " Mbit/s";
}

function fact(term, value, testid) {
  return [el("dt", {}, term), el("dd", { "data-testid": testid }, value)];
}

async function loadKiosk(id) {
  const r = await api("/api/admin/kiosks/" + encodeURIComponent(id));
  if (state.section !== "kiosk") return;
  if (r.status === 404) {
    $("kiosk-title").textContent = id;
    $("kiosk-facts").replaceChildren();
    return notice(t("kiosk.unknown"));
  }
  if (!r.ok) return r.status === 401 ? null : notice(r.status === 403 ? t("error.403") : t("error.load", { status: r.status }));
  const { now, published, kiosk: k, calls } = r.body;
  $("kiosk-title").textContent = t("kiosk.title", { site: k.site, id: k.kiosk_id });
  $("kiosk-facts").replaceChildren(
    ...fact(t("kiosk.connection"), stateText(k), "kiosk-state"),
    ...fact(t("kiosk.heartbeat"), k.last_heartbeat_at ? age(now, k.last_heartbeat_at) : t("fleet.never"), "kiosk-heartbeat"),
    ...fact(t("kiosk.rtt"), k.rtt_ms !== undefined ? k.rtt_ms + " ms" : "—", "kiosk-rtt"),
    ...fact(t("kiosk.uplink"), k.last_call ? uplinkText(k.last_call.uplink_kbps) : t("kiosk.no-call"), "kiosk-uplink"),
    ...fact(t("kiosk.call-rtt"), k.last_call && k.last_call.rtt_ms !== undefined ? k.last_call.rtt_ms + " ms" : "—", "kiosk-call-rtt"),
    ...fact(t("kiosk.app"), k.app_version || "—", "kiosk-app"),
    ...fact(t("kiosk.config"), configText(k, published), "kiosk-config"),
  );
  $("kiosk-calls").replaceChildren(
    ...fact(t("kiosk.today"), t("kiosk.calls-line", calls.today), "kiosk-calls-today"),
    ...fact(t("kiosk.week"), t("kiosk.calls-line", calls.week), "kiosk-calls-week"),
  );
  // A fault the kiosk measured has a code, said in the page's language;
  // others keep the device's own words.
  const faultText = (name, d) => {
    const key = "fault." + name + "." + d.code;
    return d.code && t(key) !== key ? t(key) : d.detail || "";
  };
  const devices = k.devices ? ["camera", "microphone", "speaker", "scanner", "printer"].filter(name => k.devices[name]).map(name => {
    const d = k.devices[name];
    return el("tr", { "data-testid": "device-" + name },
      el("th", { scope: "row" }, t("device." + name)),
      el("td", { class: d.state === "ok" || d.state === "not_installed" ? "ok" : "bad" }, t("device." + d.state)),
      el("td", { "data-testid": "device-detail-" + name }, faultText(name, d)));
  }) : [el("tr", {}, el("td", { colSpan: 3, class: "muted" }, t("kiosk.no-report")))];
  $("kiosk-devices").replaceChildren(...devices);
  const refusal = k.last_refusal;
  $("kiosk-refusal").hidden = !refusal;
  if (refusal) {
    $("kiosk-refusal").textContent = t("kiosk.refusal", { version: refusal.version, age: age(now, refusal.at), message: refusal.message });
  }
}

SECTIONS.fleet = showFleet;
SECTIONS.kiosk = showKiosk;
