// Home page: keep the unread badges fresh (GET /api/unread, see server/views/api.py).
import { badgeNodes } from "./unread.js";

const REFRESH_MS = 30_000;

async function refresh() {
  if (document.visibilityState !== "visible") return;
  let data;
  try {
    const response = await fetch("/api/unread", { headers: { accept: "application/json" } });
    if (!response.ok) return;
    data = await response.json();
  } catch {
    return; // Offline: try again at the next tick.
  }
  for (const [roomId, counts] of Object.entries(data.rooms || {})) {
    for (const el of document.querySelectorAll(`[data-unread-room="${Number(roomId)}"]`)) {
      el.replaceChildren(...badgeNodes(counts.unread, counts.mentions));
    }
  }
}

setInterval(refresh, REFRESH_MS);
document.addEventListener("visibilitychange", refresh);
// Coming back from a room with the Back button restores the page from the cache.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) refresh();
});
