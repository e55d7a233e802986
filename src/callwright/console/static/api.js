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
  constructor(status, body, retryAfter) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.reason = body?.error?.reason;
    this.code = body?.error?.code;
    this.details = Array.isArray(body?.error?.details) ? body.error.details : [];
    this.retryAfter = retryAfter; // seconds, on a 429
  }
}

// Polls share the key's request budget with the partner's own integration: a poll waits while
// the tab is hidden, and after a 429 for as long as Retry-After says.
export function poll(step, everyMs) {
  let timer = null;
  let stopped = false;
  async function tick() {
    timer = null;
    if (stopped) return;
    if (document.hidden) {
      document.addEventListener("visibilitychange", tick, { once: true });
      return;
    }
    let wait = everyMs;
    let again = true;
    try {
      again = (await step()) !== false;
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) wait = Math.max(everyMs, (error.retryAfter || 5) * 1000);
      else throw error;
    }
    if (again && !stopped) timer = setTimeout(tick, wait);
  }
  const first = tick();
  return {
    first,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", tick);
    },
  };
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
  if (!response.ok || payload?.success === false) {
    throw new ApiError(response.status, payload, Number(response.headers.get("Retry-After")) || undefined);
  }
  return payload;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body ?? {});
export const put = (path, body) => call("PUT", path, body ?? {});
