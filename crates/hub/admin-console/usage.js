// Usage: the figures of a period as charts (SVG drawn by the hub with the
// same computation as `visio-admin stats`), a table of the same figures
// (what screen readers read) and the CSV download.

const CHARTS = ["interviews-by-month", "interviews-by-service", "median-wait-by-service", "km-by-month"];

function isoDate(d) {
  return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
}

function number(x, digits) {
  return Number(x).toLocaleString(lang === "en" ? "en-GB" : "fr-FR", { maximumFractionDigits: digits || 0 });
}

async function showUsage() {
  $("usage").hidden = false;
  if (!$("usage-from").value) {
    // The current month and the two before it.
    const now = new Date();
    $("usage-from").value = isoDate(new Date(now.getFullYear(), now.getMonth() - 2, 1));
    $("usage-to").value = isoDate(now);
  }
  await loadUsage();
}

async function loadUsage(event) {
  if (event) event.preventDefault();
  const period = "from=" + encodeURIComponent($("usage-from").value) + "&to=" + encodeURIComponent($("usage-to").value);
  $("usage-csv").href = "/api/admin/usage.csv?" + period;
  const r = await api("/api/admin/usage?" + period);
  if (!r.ok) {
    $("usage-charts").replaceChildren();
    $("usage-rows").replaceChildren();
    $("usage-total").textContent = "";
    if (r.status === 401) return null;
    const code = r.body && r.body.code;
    return notice(code === "not_published" ? t("usage.not_published") : r.status === 403 ? t("error.403") : (r.body && r.body.error) || t("error.load", { status: r.status }));
  }
  notice("");
  const report = r.body;
  const total = report.total;
  $("usage-total").textContent = t("usage.total", {
    interviews: total.interviews, requests: total.requests, km: number(total.km_saved), co2: number(total.kg_co2e_saved),
  });
  $("usage-charts").replaceChildren(...CHARTS.map(name => el("figure", { "data-testid": "chart" },
    el("img", {
      src: "/api/admin/charts/" + name + "?" + period + "&label=" + encodeURIComponent(t("axis." + name)),
      alt: t("chart." + name), width: 560, height: 300,
    }),
    el("figcaption", {}, t("chart." + name)))));
  const groups = [["service", report.by_service], ["site", report.by_site], ["month", report.by_month], ["total", [total]]];
  const rows = groups.flatMap(([group, list]) => list.map(row => el("tr", { "data-testid": "usage-row", "data-group": group, "data-key": row.key },
    el("th", { scope: "row" }, t("usage.group." + group) + " · " + (group === "total" ? "" : row.key)),
    el("td", {}, String(row.requests)),
    el("td", {}, String(row.interviews)),
    el("td", {}, duration(row.median_wait_seconds)),
    el("td", {}, duration(row.p90_wait_seconds)),
    el("td", {}, duration(row.median_duration_seconds)),
    el("td", {}, row.happy + " / " + row.neutral + " / " + row.unhappy),
    el("td", {}, number(row.km_saved)),
    el("td", {}, number(row.kg_co2e_saved)))));
  $("usage-rows").replaceChildren(...rows);
  return null;
}

SECTIONS.usage = showUsage;
