// Shared by every page: calls to the REST API that never throw, the API's refusals as
// {field, msg} problems, and DOM building through textContent only (arch strings, device names and
// descriptions are user data and never go through innerHTML).
"use strict";

const NAS = (() => {
  // {ok, status, data, problems}; a network failure is status 0 with one problem.
  async function api(path, options = {}) {
    const headers = { accept: "application/json", ...(options.headers || {}) };
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch (error) {
      return { ok: false, status: 0, data: null, problems: [{ field: "", msg: `network error: ${error.message}` }] };
    }
    let data = null;
    try {
      const text = await response.text();
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    return { ok: response.ok, status: response.status, data,
             problems: response.ok ? [] : problemsOf(response.status, data) };
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

  return { api, read, postJSON, problemsOf, el, showProblems, showFieldProblems, pageError, problemText, fmt,
           hoverText, plotConfig, scriptsLoaded, onPointClick };
})();
