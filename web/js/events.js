// The live event stream, GET /v1/events (Server-Sent Events), read with fetch() and a
// stream reader: EventSource cannot send the Authorization header, and tokens never go in
// query strings. On reconnect the last id goes back as `Last-Event-ID`, so the server
// replays what was missed. When the stream is not served (404/405/501) or keeps failing,
// `mode` says "polling" and the pages poll instead (see jobs.js and each page's refresh).

const UNAVAILABLE = new Set([404, 405, 501]);
const MAX_BACKOFF_MS = 30_000;
/** How long after a 404 the stream is tried again (a deployment may add it). */
const RETRY_UNAVAILABLE_MS = 60_000;
/** `event: end` reasons after which the stream is opened again at once. */
const ROUTINE_ENDS = new Set(["expired", "overflow", "renew"]);
/** Jobs whose latest event is kept, so a follower that subscribes late misses nothing. */
const RECENT_JOBS = 200;

/** Splits a text stream into SSE lines (CRLF, LF or CR), even across chunk borders. */
export class LineSplitter {
  constructor() {
    this.buffer = "";
  }

  push(chunk) {
    this.buffer += chunk;
    const lines = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone CR at the very end may be the first half of a CRLF: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      lines.push(this.buffer.slice(0, match.index));
      this.buffer = this.buffer.slice(match.index + match[0].length);
    }
    return lines;
  }
}

/** Turns SSE lines into events, as the HTML standard's parser does. */
export class EventParser {
  constructor(dispatch) {
    this.dispatch = dispatch;
    this.reset();
    this.lastId = null;
  }

  reset() {
    this.type = "";
    this.data = [];
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        this.dispatch({ type: this.type || "message", data: this.data.join("\n"), id: this.lastId });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return; // a comment: the heartbeat
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") this.type = value;
    else if (name === "data") this.data.push(value);
    else if (name === "id" && !value.includes("\0")) this.lastId = value;
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });

export class EventStream {
  /**
   * @param {import('./api.js').Api} api  for the URL and the session's token
   */
  constructor(api) {
    this.api = api;
    this.handlers = new Set();
    this.modeHandlers = new Set();
    this.mode = "connecting";
    this.lastEventId = null;
    this.endReason = null;
    this.recentJobs = new Map();
    this.stopper = null;
  }

  get live() {
    return this.mode === "live";
  }

  /** fn({type, data, id}) for every event; returns the unsubscribe function. */
  on(fn) {
    this.handlers.add(fn);
    return () => this.handlers.delete(fn);
  }

  onMode(fn) {
    this.modeHandlers.add(fn);
    fn(this.mode);
    return () => this.modeHandlers.delete(fn);
  }

  /** The latest job event seen for this job id, if any. */
  latestJob(id) {
    return this.recentJobs.get(id) || null;
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    for (const fn of this.modeHandlers) fn(mode);
  }

  start() {
    if (this.stopper) return;
    this.stopper = new AbortController();
    this.loop(this.stopper.signal);
  }

  stop() {
    this.stopper?.abort();
    this.stopper = null;
    this.handlers.clear();
    this.recentJobs.clear();
    this.lastEventId = null;
    this.setMode("connecting");
  }

  async loop(signal) {
    let backoff = 1000;
    while (!signal.aborted) {
      let wait;
      try {
        this.endReason = null;
        await this.connectOnce(signal);
        // Ended by the server: at once when the token expired or the client fell behind
        // (the server is fine), after a backoff when it is stopping or cannot read the log.
        if (ROUTINE_ENDS.has(this.endReason)) {
          backoff = 1000;
          wait = 0;
        } else {
          wait = backoff;
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        }
      } catch (error) {
        if (signal.aborted) return;
        this.setMode("polling");
        wait = error.unavailable ? RETRY_UNAVAILABLE_MS : backoff;
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      if (wait) await sleep(wait, signal);
    }
  }

  async connectOnce(signal) {
    const headers = { Accept: "text/event-stream" };
    const token = await this.api.session.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    const response = await fetch(this.api.url("/v1/events"), { headers, signal, cache: "no-store" });
    if (UNAVAILABLE.has(response.status)) {
      throw Object.assign(new Error("the event stream is not served here"), { unavailable: true });
    }
    const type = response.headers.get("content-type") || "";
    if (!response.ok || !type.startsWith("text/event-stream") || !response.body) {
      if (response.status === 401) await this.api.session.refresh();
      throw new Error(`the event stream answered ${response.status}`);
    }
    this.setMode("live");
    const splitter = new LineSplitter();
    const parser = new EventParser((event) => this.deliver(event));
    parser.lastId = this.lastEventId;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const line of splitter.push(value)) parser.line(line);
        if (parser.lastId !== null) this.lastEventId = parser.lastId;
      }
    } finally {
      reader.releaseLock();
    }
    this.setMode("connecting");
  }

  deliver(raw) {
    let data;
    try {
      data = JSON.parse(raw.data);
    } catch {
      return; // not ours to guess at
    }
    if (raw.type === "end") {
      this.endReason = data?.reason ?? null;
    } else if (raw.type === "ready") {
      if (this.lastEventId === null && data && data.last_event_id !== undefined) {
        this.lastEventId = String(data.last_event_id);
      }
    } else if (raw.type === "job" && data && data.id) {
      this.recentJobs.delete(data.id);
      this.recentJobs.set(data.id, data);
      if (this.recentJobs.size > RECENT_JOBS) {
        this.recentJobs.delete(this.recentJobs.keys().next().value);
      }
    }
    const event = { type: raw.type, data, id: raw.id };
    for (const fn of [...this.handlers]) {
      try {
        fn(event);
      } catch (error) {
        console.warn("an event handler failed", error);
      }
    }
  }
}
