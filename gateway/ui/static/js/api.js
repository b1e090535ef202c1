// The gateway's Mux-compatible JSON API, called with HTTP Basic from an API token the user typed in.
// The token lives in sessionStorage (this tab only) and never in the page's source.

const TOKEN_KEY = "upgw.token";

export class ApiError extends Error {
  constructor(status, type, messages) {
    super(messages.length ? messages.join("; ") : `HTTP ${status}`);
    this.status = status;
    this.type = type;
  }
}

function basic(id, secret) {
  const bytes = new TextEncoder().encode(`${id}:${secret}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

export function savedToken() {
  try {
    const token = JSON.parse(sessionStorage.getItem(TOKEN_KEY) ?? "null");
    return token && typeof token.id === "string" && typeof token.secret === "string" ? token : null;
  } catch {
    return null;
  }
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ id: token.id, secret: token.secret }));
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class Api {
  constructor(token) {
    this.tokenId = token.id;
    this.authorization = basic(token.id, token.secret);
  }

  async call(method, path, body) {
    const headers = { Authorization: this.authorization, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // credentials "omit": a 401 must not make the browser open its own Basic-auth dialog
    const response = await fetch(path, {
      method, headers, credentials: "omit", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = await response.json().catch(() => null);
    if (!response.ok) {
      const error = payload?.error ?? {};
      const messages = Array.isArray(error.messages) ? error.messages.map(String) : [];
      throw new ApiError(response.status, String(error.type ?? "http_error"), messages);
    }
    return payload?.data;
  }

  createUpload(settings) {
    return this.call("POST", "/video/v1/uploads", settings);
  }

  getUpload(id) {
    return this.call("GET", `/video/v1/uploads/${encodeURIComponent(id)}`);
  }

  listAssets(limit) {
    return this.call("GET", `/video/v1/assets?limit=${limit}`);
  }
}
