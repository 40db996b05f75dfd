// Following a job the API answered 202 for ("still running"): from the event stream when
// it is live, else by polling the job (GET /v1/trades/{id} for trades, with the fill;
// GET /v1/jobs/{id} for the rest) until it ends.

export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const RANK = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };
/** How often a job is polled while the stream is not live. */
export const POLL_MS = 1500;

function newer(current, next) {
  if (!next || next.id !== current.id) return current;
  return (RANK[next.status] ?? 0) >= (RANK[current.status] ?? 0) ? next : current;
}

/**
 * Resolve with the job once it is terminal; `onUpdate(job)` on every change of status.
 * @param {object} ctx  {api, events}
 * @param {object} job  a JobOut (or TradeOut) as the API answered it
 */
export function followJob(ctx, job, onUpdate = () => {}, { signal } = {}) {
  const path = job.links?.trade || job.links?.self || `/v1/jobs/${job.id}`;
  return new Promise((resolve) => {
    let current = job;
    let timer = null;
    let finished = false;
    const finish = () => {
      finished = true;
      off();
      clearTimeout(timer);
      resolve(current);
    };
    const update = (next) => {
      if (finished) return;
      const chosen = newer(current, next);
      if (chosen !== current && (chosen.status !== current.status || chosen.fill !== current.fill)) {
        current = chosen;
        onUpdate(current);
      } else {
        current = chosen;
      }
      if (TERMINAL.has(current.status)) finish();
    };
    const off = ctx.events.on((event) => {
      if (event.type === "job") update(event.data);
    });
    const tick = async () => {
      if (finished) return;
      if (!ctx.events.live) {
        try {
          const { data } = await ctx.api.get(path, { signal });
          update(data);
        } catch (error) {
          if (error.name === "AbortError") return finish();
          // a failed poll is tried again: the job itself is not lost
        }
      }
      if (!finished) timer = setTimeout(tick, POLL_MS);
    };
    signal?.addEventListener("abort", finish, { once: true });
    update(ctx.events.latestJob(job.id)); // an event that came before the answer did
    if (TERMINAL.has(current.status)) finish();
    else timer = setTimeout(tick, ctx.events.live ? POLL_MS : 300);
  });
}

/** A job's outcome in words: what the venue did, or the error's message. */
export function describeJob(job) {
  if (job.status === "succeeded") {
    const fill = job.fill || job.result || {};
    const what = [job.payload?.side, fill.volume ?? job.payload?.volume, job.payload?.symbol].filter(Boolean).join(" ");
    const parts = [what || job.kind];
    if (fill.price) parts.push(`at ${fill.price}`);
    if (fill.position) parts.push(`· position ${fill.position}`);
    else if (fill.order) parts.push(`· order ${fill.order}`);
    return parts.join(" ");
  }
  if (job.status === "failed" || job.status === "cancelled") {
    return job.error?.message || job.status;
  }
  return job.status;
}

/** The venue's word for what happened ("filled", "placed", "closed"), capitalised. */
export function outcomeWord(job) {
  const word = job.fill?.status || job.result?.status || "done";
  return word.charAt(0).toUpperCase() + word.slice(1);
}
