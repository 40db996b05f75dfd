// The functions' HTTP API, with the session's access token. Every failure becomes an
// ApiError carrying the problem's `detail` (RFC 9457) and, for validation problems,
// its `errors: [{field, message}]`.

export class ApiError extends Error {
  constructor(status, problem = {}) {
    const detail = problem.detail || problem.title || `the request failed (HTTP ${status})`;
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.code = problem.code ?? null;
    this.type = problem.type ?? null;
    this.job = problem.job ?? null;
  }

  /** The API wants an aal2 session (a verified second factor) for this request. */
  get needsSecondFactor() {
    return this.status === 403 && /second factor|aal2|\bmfa\b/i.test(`${this.type} ${this.detail}`);
  }
}

async function readBody(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const text = await response.text();
  if (!text) return null;
  if (type.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      return { detail: "the API answered with JSON it could not parse" };
    }
  }
  return text;
}

export class Api {
  /**
   * @param {string} baseUrl  the functions' URL (config.functions_url)
   * @param {object} session  {token(), refresh(), expired(), stepUp()}: see main.js
   */
  constructor(baseUrl, session) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.session = session;
  }

  url(path) {
    return `${this.baseUrl}${path}`;
  }

  async request(method, path, { body, headers = {}, signal, retry = true } = {}) {
    const init = {
      method,
      headers: { Accept: "application/json, application/problem+json", ...headers },
      cache: "no-store",
      signal,
    };
    const token = await this.session.token();
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.url(path), init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, {
        detail: `the API at ${this.baseUrl} cannot be reached; check your connection and try again`,
      });
    }
    const data = await readBody(response);
    if (response.ok) {
      return { status: response.status, data, headers: response.headers };
    }
    const problem = data && typeof data === "object" ? data : { detail: data || response.statusText };
    const error = new ApiError(response.status, problem);
    if (retry && response.status === 401 && (await this.session.refresh())) {
      return this.request(method, path, { body, headers, signal, retry: false });
    }
    if (response.status === 401) this.session.expired(error.detail);
    if (retry && error.needsSecondFactor && (await this.session.stepUp())) {
      return this.request(method, path, { body, headers, signal, retry: false });
    }
    throw error;
  }

  get(path, options) { return this.request("GET", path, options); }
  post(path, body, options = {}) { return this.request("POST", path, { ...options, body }); }
  patch(path, body, options = {}) { return this.request("PATCH", path, { ...options, body }); }
  delete(path, options) { return this.request("DELETE", path, options); }
}

/** A fresh Idempotency-Key, as the API wants it: a quoted string. */
export function idempotencyKey() {
  return `"${uuid()}"`;
}

/** A random UUID (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
