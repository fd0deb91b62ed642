// The agent's day (issue 24, item 6): today's appointments of their
// services (theirs, and those booked with no agent named), from
// GET /api/agent/appointments, in the hub's time zone; the same day as
// iCalendar (appointments.ics) for a calendar program. Read at each
// welcome, at the end of each call and every minute.

const Day = {
  list: [],
  timezone: null,

  async load() {
    let response;
    try {
      response = await fetch("/api/agent/appointments", { credentials: "same-origin" });
    } catch {
      return; // the hub is out of reach: the banner says so; the next read brings it
    }
    if (!response.ok) return;
    const day = await response.json();
    this.timezone = day.timezone;
    this.list = day.appointments || [];
    this.render();
  },

  render() {
    const list = $("day-list");
    list.replaceChildren();
    for (const a of this.list) {
      const item = document.createElement("li");
      item.dataset.testid = "day-item";
      item.dataset.reference = a.reference;
      item.dataset.kind = a.kind;
      item.dataset.state = a.state;
      if (a.state === "cancelled") item.classList.add("cancelled");
      const time = document.createElement("time");
      time.className = "time";
      time.dateTime = a.start;
      time.textContent = this.clock(a.start);
      const what = document.createElement("span");
      what.className = "what";
      const service = document.createElement("span");
      service.className = "service";
      service.textContent = a.service.toUpperCase();
      what.append(service, ` · ${a.site || a.kiosk_id}`);
      const reference = document.createElement("span");
      reference.className = "reference";
      const kind = t(a.kind === "callback" ? "day.callback" : "day.booked");
      reference.textContent = `${kind} ${a.reference}${a.state === "cancelled" ? ` · ${t("day.cancelled")}` : ""}`;
      item.append(time, what, reference);
      list.append(item);
    }
    $("day-empty").hidden = this.list.length > 0;
  },

  /// "14:30" in the hub's time zone (the kiosks'), whatever the browser's.
  clock(iso) {
    const options = { hour: "2-digit", minute: "2-digit" };
    try {
      return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "fr-FR", { ...options, timeZone: this.timezone || undefined }).format(new Date(iso));
    } catch {
      return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "fr-FR", options).format(new Date(iso));
    }
  },
};

setInterval(() => {
  if (state.me && state.connected) Day.load();
}, 60000);
languageHooks.push(() => Day.render());
