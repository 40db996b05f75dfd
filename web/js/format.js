// Numbers and times as people read them. Amounts arrive as decimal strings: shown as sent
// (grouped), never rounded through floating point when it can be avoided.

export function amount(value, currency) {
  if (value === null || value === undefined || value === "") return "—";
  const number = Number(value);
  const text = Number.isFinite(number)
    ? number.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 8 })
    : String(value);
  return currency ? `${text} ${currency}` : text;
}

export function plain(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "—";
}

/** The first of `keys` that `row` has (shapes of endpoints still being written). */
export function pick(row, ...keys) {
  for (const key of keys) {
    if (row && row[key] !== undefined && row[key] !== null) return row[key];
  }
  return null;
}
