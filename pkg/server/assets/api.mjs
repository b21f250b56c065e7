// The calls to the HTTP API. Every state-changing request carries the CSRF
// header the API requires; its name comes from the server (see admin.mjs).

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// newAPI returns api(method, path, body, contentType), which calls the
// server and returns the decoded JSON body, or throws an APIError carrying
// the status and the API's own "error" text.
export function newAPI(csrfHeader) {
  return async function api(method, path, body, contentType) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers[csrfHeader] = 'auth-session';
    if (contentType) headers['Content-Type'] = contentType;
    let resp;
    try {
      resp = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    } catch (err) {
      throw new APIError(0, 'the server cannot be reached (' + err.message + ')');
    }
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!resp.ok) {
      const msg = data && typeof data.error === 'string' ? data.error : 'HTTP ' + resp.status + ' ' + resp.statusText;
      throw new APIError(resp.status, msg);
    }
    return data;
  };
}
