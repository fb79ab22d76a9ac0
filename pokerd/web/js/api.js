// HTTP calls to pokerd's API and the seat and creator tokens kept in this browser.

export async function call(method, path, { body = null, token = null } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== null) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === null ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  return { ok: response.ok, status: response.status, data };
}

// Where the live stream listens ("ws://host:port"), as /healthz says. On the
// page's own host and port (the default: one port for everything), the page's
// origin is used, so that it also works behind an HTTPS proxy (wss:).
export async function liveUrl() {
  const { data } = await call("GET", "/healthz");
  const own = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}`;
  if (!data.live || new URL(data.live).host === location.host) return own;
  return data.live;
}

// The seat token of each table, so that a reload returns to the seat.
const KEY = (table) => `pokerd.seat.${table}`;

export function savedSeat(table) {
  try {
    return JSON.parse(localStorage.getItem(KEY(table)));
  } catch (failure) {
    return null;
  }
}

export function saveSeat(table, seated) {
  localStorage.setItem(KEY(table), JSON.stringify(seated));
}

export function forgetSeat(table) {
  localStorage.removeItem(KEY(table));
}

// The creator token of each table this browser created, which may close it.
const CREATOR_KEY = (table) => `pokerd.creator.${table}`;

export function savedCreator(table) {
  return localStorage.getItem(CREATOR_KEY(table));
}

export function saveCreator(table, token) {
  localStorage.setItem(CREATOR_KEY(table), token);
}

export function forgetCreator(table) {
  localStorage.removeItem(CREATOR_KEY(table));
}
