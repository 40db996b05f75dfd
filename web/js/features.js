// What this deployment of the functions serves, read once from its OpenAPI document: a
// page whose endpoint is not there is not shown (positions, P&L, API tokens and signals
// arrive in later releases), and the choices a form offers come from the API's own enums.

const OPTIONAL = {
  events: ["/v1/events", "get"],
  positions: ["/v1/positions", "get"],
  deals: ["/v1/deals", "get"],
  pnl: ["/v1/pnl", "get"],
  equity: ["/v1/accounts/{account_id}/equity", "get"],
  apiTokens: ["/v1/api-tokens", "get"],
  signalChannels: ["/v1/signal-channels", "get"],
  subscriptions: ["/v1/subscriptions", "get"],
};

const FALLBACK_ENUMS = {
  mt5Environment: ["demo", "live"],
  exchangeEnvironment: ["testnet", "live"],
  exchanges: ["binance", "bybit", "okx"],
};

function findPath(paths, template) {
  if (paths[template]) return paths[template];
  // the path parameter may carry another name: /v1/accounts/{id}/equity
  const shape = template.replace(/\{[^}]+\}/g, "{}");
  const key = Object.keys(paths).find((p) => p.replace(/\{[^}]+\}/g, "{}") === shape);
  return key ? paths[key] : null;
}

function enumOf(schemas, model, property) {
  const prop = schemas?.[model]?.properties?.[property];
  if (!prop) return null;
  if (Array.isArray(prop.enum)) return prop.enum;
  for (const option of prop.anyOf || prop.oneOf || []) {
    if (Array.isArray(option.enum)) return option.enum;
    if (option.$ref) {
      const target = schemas[option.$ref.split("/").pop()];
      if (Array.isArray(target?.enum)) return target.enum;
    }
  }
  if (prop.$ref) {
    const target = schemas[prop.$ref.split("/").pop()];
    if (Array.isArray(target?.enum)) return target.enum;
  }
  return null;
}

export async function discover(functionsUrl) {
  const features = { ...Object.fromEntries(Object.keys(OPTIONAL).map((k) => [k, false])) };
  features.enums = { ...FALLBACK_ENUMS };
  let doc;
  try {
    const response = await fetch(`${functionsUrl.replace(/\/+$/, "")}/openapi.json`, { cache: "no-store" });
    if (!response.ok) return features;
    doc = await response.json();
  } catch {
    return features; // only what exists everywhere is shown
  }
  const paths = doc.paths || {};
  for (const [name, [template, method]] of Object.entries(OPTIONAL)) {
    features[name] = Boolean(findPath(paths, template)?.[method]);
  }
  // The query parameter of /v1/pnl that groups by day: the one whose enum offers "day".
  const pnlParams = findPath(paths, "/v1/pnl")?.get?.parameters || [];
  const grouping = pnlParams.find((p) => JSON.stringify(p.schema || {}).includes('"day"'));
  features.pnlGroupParam = grouping ? grouping.name : "group_by";
  const schemas = doc.components?.schemas || {};
  features.enums.mt5Environment = enumOf(schemas, "ConnectMt5", "environment") || FALLBACK_ENUMS.mt5Environment;
  features.enums.exchangeEnvironment =
    enumOf(schemas, "ConnectExchange", "environment") || FALLBACK_ENUMS.exchangeEnvironment;
  features.enums.exchanges = enumOf(schemas, "ConnectExchange", "exchange") || FALLBACK_ENUMS.exchanges;
  return features;
}
