// Shared by every page: calls to the REST API that never throw, the API's refusals as
// {field, msg} problems, DOM building through textContent only (arch strings, device names and
// descriptions are user data and never go through innerHTML), and the API key.
//
// The key: where the service needs one (GET /api/v1/health says auth "required"), the page asks for it
// in #key-panel, checks it with GET /api/v1/keys/me and keeps it in this tab's sessionStorage (never a
// cookie, never localStorage); every call sends it as `Authorization: Bearer <key>`. A 401 asks again.
// `me()` resolves to who calls: {name, role, auth}; with auth off, {name: null, role: "admin"}.
"use strict";

const NAS = (() => {
  const KEY_ITEM = "nas.apiKey";

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_ITEM);
    } catch {
      return null;  // storage refused (a sandboxed frame): no key, the API says what it needs
    }
  }

  // One HTTP call with `key` (if any) as a bearer header: {ok, status, data, problems}; a network
  // failure is status 0 with one problem.
  async function request(path, options = {}, key = storedKey()) {
    const headers = { accept: "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}),
                      ...(options.headers || {}) };
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch (error) {
      return { ok: false, status: 0, data: null, problems: [{ field: "", msg: `network error: ${error.message}` }] };
    }
    const data = await jsonOf(response);
    return { ok: response.ok, status: response.status, data,
             problems: response.ok ? [] : problemsOf(response.status, data) };
  }

  async function jsonOf(response) {
    try {
      const text = await response.text();
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  // Who calls, asked once per page: the stored key's name and role (GET /api/v1/keys/me), or, with no
  // key stored, the service's auth mode from GET /api/v1/health (which needs no key).
  let identity = null;

  function me() {
    identity ||= identify().then((who) => {
      showIdentity(who);
      return who;
    });
    return identity;
  }

  async function identify() {
    const key = storedKey();
    if (!key) {
      const health = await request("/api/v1/health", {}, null);
      const auth = health.ok && health.data && health.data.auth === "required" ? "required" : "off";
      if (auth === "required") askKey(null);
      return { name: null, role: auth === "off" ? "admin" : null, auth };
    }
    const found = await request("/api/v1/keys/me", {}, key);
    if (found.ok) return found.data;
    if (found.status === 401) {
      forgetKey();
      askKey(problemText(found));
    }
    return { name: null, role: null, auth: "required" };
  }

  // What the page shows of who calls: name and role in the header (auth required only), the
  // read-only note for a viewer, and the member-only controls ([data-needs=member]) hidden from
  // anyone who may not write.
  function showIdentity(who) {
    document.body.dataset.auth = who.auth;
    document.body.dataset.role = who.role || "none";
    const named = who.auth === "required" && Boolean(who.name);
    document.getElementById("who").hidden = !named;
    if (named) {
      document.getElementById("who-name").textContent = who.name;
      document.getElementById("who-role").textContent = who.role;
    }
    const readOnly = document.getElementById("read-only");
    if (readOnly) readOnly.hidden = who.role !== "viewer";
    const writes = who.role === "member" || who.role === "admin";
    for (const node of document.querySelectorAll("[data-needs=member]")) {
      node.hidden = !writes;
      if (node instanceof HTMLButtonElement) node.disabled = !writes;  // no implicit submission either
    }
  }

  // Whether `who` may change what `owner` made: an admin anything, a member its own.
  function mayChange(who, owner) {
    return who.role === "admin" || (who.role === "member" && Boolean(owner) && owner === who.name);
  }

  function forgetKey() {
    try {
      sessionStorage.removeItem(KEY_ITEM);
    } catch {
      // nothing was stored
    }
  }

  function askKey(message) {
    const panel = document.getElementById("key-panel");
    const error = document.getElementById("key-error");
    error.textContent = message || "";
    error.hidden = !message;
    if (panel.hidden) {
      panel.hidden = false;
      document.getElementById("key-input").focus();
    }
  }

  // The key form: a key is kept only once GET /api/v1/keys/me accepts it; then the page reloads its data.
  document.getElementById("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("key-input");
    const key = input.value.trim();
    if (!/^[\x21-\x7e]+$/.test(key)) {  // a header holds no other characters (fetch would throw)
      askKey(key ? "key: a key is printable ASCII without spaces (nas_…)" : "key: paste the key an admin gave you");
      return;
    }
    const checked = await request("/api/v1/keys/me", {}, key);
    if (!checked.ok) {
      askKey(problemText(checked));
      return;
    }
    try {
      sessionStorage.setItem(KEY_ITEM, key);
    } catch {
      askKey("this browser refuses session storage here: the key cannot be kept");
      return;
    }
    window.location.reload();
  });

  document.getElementById("forget-key").addEventListener("click", () => {
    forgetKey();
    window.location.reload();
  });

  const NEEDS_KEY = "this service needs an API key: give yours above";

  // A call to the REST API for the page: never made without a key where one is needed (the page
  // asks for it instead), and a 401 asks for a key again.
  async function api(path, options = {}) {
    const who = await me();
    if (who.auth === "required" && !storedKey()) {
      return { ok: false, status: 401, data: null, problems: [{ field: "", msg: NEEDS_KEY }] };
    }
    const result = await request(path, options);
    if (result.status === 401) askKey(problemText(result));
    return result;
  }

  // A link to a file the API serves (an export): followed as it is with no key, fetched with the key
  // and saved from memory otherwise, since a followed link cannot send the header.
  async function downloadWithKey(event) {
    const link = event.currentTarget;
    const key = storedKey();
    if (!key) return;
    event.preventDefault();
    let response;
    try {
      response = await fetch(link.href, { headers: { authorization: `Bearer ${key}` } });
    } catch (error) {
      pageError(`Could not export: network error: ${error.message}`);
      return;
    }
    if (!response.ok) {
      const refused = problemText({ problems: problemsOf(response.status, await jsonOf(response)) });
      if (response.status === 401) askKey(refused);
      pageError(`Could not export: ${refused}`);
      return;
    }
    const named = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
    const json = (response.headers.get("content-type") || "").includes("json");
    const name = named ? named[1] : `candidate-${link.pathname.split("/").slice(-2).join("-")}${json ? ".json" : ""}`;
    const url = URL.createObjectURL(await response.blob());
    const save = el("a", { href: url, download: name, hidden: true });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  function postJSON(path, body) {
    return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  }

  // FastAPI's 422 gives detail = [{loc, msg, type}]; the routes' other 4xx give detail = "field: reason".
  function problemsOf(status, data) {
    const detail = data && typeof data === "object" ? data.detail : null;
    if (Array.isArray(detail)) {
      return detail.map((item) => ({
        field: Array.isArray(item.loc) && item.loc.length ? String(item.loc[item.loc.length - 1]) : "",
        msg: typeof item.msg === "string" ? item.msg : JSON.stringify(item),
      }));
    }
    if (typeof detail === "string" && detail) {
      const head = detail.split(": ")[0];
      const named = head !== detail && /^[A-Za-z_][\w.]*$/.test(head);
      return [{ field: named ? head.split(".").pop() : "", msg: detail }];
    }
    return [{ field: "", msg: `the server answered HTTP ${status}` }];
  }

  // el("a", {href: "/x", class: "y"}, "text", child): attributes set with setAttribute, text as text nodes.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // One li per problem (its text is the API's msg); a message that does not name its field gets it
  // as a CSS label, so the li's text stays the API's own.
  function showProblems(list, problems) {
    list.replaceChildren(...problems.map((p) => el("li", {
      "data-field": p.field || null,
      "data-label": p.field && !/^[A-Za-z_][\w.]*: /.test(p.msg) ? p.field : null,
    }, p.msg)));
    list.hidden = problems.length === 0;
  }

  // Each problem also next to its field: .field-error[data-field=FIELD] inside `form`.
  function showFieldProblems(form, problems) {
    for (const slot of form.querySelectorAll(".field-error")) {
      const own = problems.filter((p) => p.field === slot.dataset.field).map((p) => p.msg);
      slot.textContent = own.join(" ");
      slot.closest(".field")?.classList.toggle("invalid", own.length > 0);
    }
  }

  function pageError(message) {
    const box = document.getElementById("page-error");
    if (!box) return;  // the page gave way to a not-found message
    box.textContent = message || "";
    box.hidden = !message;
  }

  function problemText(result) {
    return result.problems.map((p) => p.msg).join("; ");
  }

  // GET a resource for the page: its data, or null with the refusal shown as the page's error.
  async function read(path, what) {
    const result = await api(path);
    pageError(result.ok ? null : `Could not ${what}: ${problemText(result)}`);
    return result.ok ? result.data : null;
  }

  const fmt = {
    score: (x) => (x === null || x === undefined ? "-" : String(Number(Number(x).toPrecision(4)))),
    ms: (x) => (x === null || x === undefined ? "-" : `${Number(x).toFixed(2)} ms`),
    count(n) {
      if (n === null || n === undefined) return "-";
      for (const [size, unit] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
        if (Math.abs(n) >= size) return `${(n / size).toFixed(2)} ${unit}`;
      }
      return String(n);
    },
    int: (n) => (n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US")),
    pct: (x) => (x === null || x === undefined ? "-" : `${(100 * x).toFixed(1)} %`),
    time: (iso) => (iso ? iso.replace("T", " ").slice(0, 19) : "-"),
  };

  // Hover text for Plotly, which reads a few HTML tags in text: arch strings are escaped first.
  function plotText(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function hoverText(p) {
    return `<b>#${p.id}</b> ${plotText(p.arch)}<br>score ${fmt.score(p.score)} · ${fmt.ms(p.latency_ms)}`
      + `<br>params ${fmt.count(p.params)} · MACs ${fmt.count(p.macs)}${p.feasible ? "" : "<br>outside the constraints"}`;
  }

  const plotConfig = { responsive: true, displaylogo: false };

  // Resolves once every classic script of the page has run: a page script placed before
  // plotly.min.js starts its fetch at once and draws after Plotly is there.
  const scriptsLoaded = new Promise((resolve) => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve);
    else resolve();
  });

  function onPointClick(div) {
    div.on("plotly_click", (event) => {
      const id = event.points?.[0]?.customdata;
      if (Number.isInteger(id)) window.location.href = `/candidates/${id}`;
    });
  }

  // An id the API does not know: the page's content gives way to the API's own message.
  function notFound(result) {
    document.title = "Not found · HW-NAS";
    document.querySelector("main").replaceChildren(
      el("h1", {}, "Not found"), el("p", { id: "not-found" }, problemText(result)),
      el("p", {}, el("a", { href: "/" }, "All searches")));
    document.body.dataset.notFound = "true";
  }

  me();  // at once: the key panel shows on a page that needs a key before its data is asked for

  return { api, read, postJSON, problemsOf, el, showProblems, showFieldProblems, pageError, problemText, fmt,
           hoverText, plotConfig, scriptsLoaded, onPointClick, me, mayChange, downloadWithKey, notFound };
})();
