// Private notes: the agent's own, for the call at hand. Kept in this tab's
// sessionStorage only (a reload keeps them, closing the tab or signing out
// drops them); never sent to the hub. Copied or exported by the agent.

const NOTES_KEY = "visio.notes";

const Notes = {
  load() {
    $("notes-text").value = sessionStorage.getItem(NOTES_KEY) || "";
  },

  save() {
    const text = $("notes-text").value;
    if (text) sessionStorage.setItem(NOTES_KEY, text);
    else sessionStorage.removeItem(NOTES_KEY);
  },

  /// At sign-out: nothing of the notes stays in the page or the tab.
  forget() {
    sessionStorage.removeItem(NOTES_KEY);
    $("notes-text").value = "";
  },

  status(key) {
    $("notes-status").textContent = t(key);
  },

  async copy() {
    const text = $("notes-text").value;
    if (!text) return this.status("notes.empty");
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without clipboard permission: copy the selection, as Ctrl+C would.
      $("notes-text").select();
      document.execCommand("copy");
    }
    this.status("notes.copied");
  },

  export() {
    const text = $("notes-text").value;
    if (!text) return this.status("notes.empty");
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `notes-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, "-")}.txt`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    this.status("notes.exported");
  },
};

$("notes-text").addEventListener("input", () => Notes.save());
$("notes-copy").addEventListener("click", () => Notes.copy());
$("notes-export").addEventListener("click", () => Notes.export());
$("notes-clear").addEventListener("click", () => {
  Notes.forget();
  Notes.status("notes.cleared");
});
