// The console's one way to the platform: same-origin fetches with the credential in the
// Authorization header (never in a URL), held in this tab's sessionStorage.
const STORE = "callwright.console";

export function signedIn() {
  const raw = sessionStorage.getItem(STORE);
  return raw ? JSON.parse(raw) : null;
}

export function remember(role, credential) {
  sessionStorage.setItem(STORE, JSON.stringify({ role, credential }));
}

export function forget() {
  sessionStorage.removeItem(STORE);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.reason = body?.error?.reason;
  }
}

export async function call(method, path, body) {
  const who = signedIn();
  const headers = { Accept: "application/json" };
  if (who) headers.Authorization = `Bearer ${who.credential}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const payload = await response.json().catch(() => null);
  if (!response.ok || payload?.success === false) throw new ApiError(response.status, payload);
  return payload;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body ?? {});
