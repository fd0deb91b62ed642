// Transfer (docs/protocol.md "Transferring a call"): the agent hands the
// resident of the call over, to the front of another service's line or to
// a colleague of the same service by login. The hub answers with
// call_ended ("transferred"), or an error while the call goes on.

const Transfer = {
  /// A transfer sent, awaiting the hub's answer.
  pending: false,

  /// The services a resident can be handed over to (from the welcome),
  /// plus "a colleague": closed ones shown but not offered.
  render() {
    const select = $("transfer-to");
    const chosen = select.value;
    select.replaceChildren();
    const none = new Option(t("transfer.choose"), "");
    select.append(none);
    const services = (state.welcome && state.welcome.all_services) || [];
    for (const s of services) {
      const label = s.open ? s.service.toUpperCase() : `${s.service.toUpperCase()} (${t("queue.closed")})`;
      const option = new Option(t("transfer.to-service", { service: label }), `service:${s.service}`);
      option.disabled = !s.open;
      select.append(option);
    }
    select.append(new Option(t("transfer.to-colleague"), "colleague"));
    select.value = chosen;
    this.update();
  },

  update() {
    const choice = $("transfer-to").value;
    $("transfer-colleague-row").hidden = choice !== "colleague";
    const ready = state.call && !this.pending && (choice.startsWith("service:") || (choice === "colleague" && $("transfer-colleague").value.trim()));
    $("transfer-go").disabled = !ready;
  },

  send() {
    if (!state.call || $("transfer-go").disabled) return;
    const choice = $("transfer-to").value;
    const to = choice === "colleague"
      ? { kind: "agent", login: $("transfer-colleague").value.trim() }
      : { kind: "service", service: choice.slice("service:".length) };
    this.pending = true;
    this.update();
    send({ type: "transfer", session: state.call.session, to });
  },

  /// The hub refused: the call goes on.
  refused() {
    if (!this.pending) return false;
    this.pending = false;
    this.update();
    banner(t("transfer.refused"), 8000, "error");
    return true;
  },

  /// A call ends (transferred or otherwise): the control starts afresh.
  reset() {
    this.pending = false;
    $("transfer-to").value = "";
    $("transfer-colleague").value = "";
    this.update();
  },
};

$("transfer-to").addEventListener("change", () => Transfer.update());
$("transfer-colleague").addEventListener("input", () => Transfer.update());
$("transfer-go").addEventListener("click", () => Transfer.send());
languageHooks.push(() => Transfer.render());
