// One search: its header, the Pareto plot, hypervolume over evaluations and the front's table, all from
// GET /api/v1/searches/{id}/plot (the front in full, a sample of the rest), polled while it runs. Cancel
// shows while it runs to whoever may cancel it: its owner or an admin (the API decides all the same).
"use strict";

(() => {
  const { api, postJSON, el, fmt, pageError, problemText, hoverText } = NAS;
  const main = document.querySelector("main");
  const id = main.dataset.searchId;
  const defaultProxy = main.dataset.defaultProxy;
  const paretoDiv = document.getElementById("pareto-plot");
  const hvDiv = document.getElementById("hv-plot");
  const cancel = document.getElementById("cancel-search");
  const LIVE = new Set(["queued", "running"]);
  const FAINT = "rgba(110, 120, 140, 0.35)";
  const OUTSIDE = "rgba(214, 90, 60, 0.35)";
  let clickBound = false;
  let who = { role: null };
  let live = false;  // whether the last read found it queued or running

  function proxyOf(search) {
    const asked = search.request || {};
    return asked.ensemble && asked.ensemble.length ? `log-rank sum of ${asked.ensemble.join(", ")}`
      : asked.proxy || defaultProxy;
  }

  function text(elementId, value) {
    document.getElementById(elementId).textContent = value;
  }

  function header(search) {
    const status = document.getElementById("search-status");
    status.textContent = status.dataset.status = search.status;
    const bar = document.getElementById("search-progress");
    bar.max = search.budget;
    bar.value = search.evaluated;
    text("search-evaluated", `${fmt.int(search.evaluated)} / ${fmt.int(search.budget)}`);
    text("search-space", search.space);
    text("search-device", search.device);
    text("search-strategy", search.strategy);
    text("search-proxy", proxyOf(search));
    const budget = search.request && search.request.latency_max_ms;
    text("search-budget", budget ? `${budget} ms` : "none");
    text("search-hv", fmt.score(search.hypervolume));
    text("search-owner", search.owner || "-");
    const error = document.getElementById("search-error");
    error.textContent = search.error || "";
    error.hidden = !search.error;
    cancel.hidden = !(LIVE.has(search.status) && NAS.mayChange(who, search.owner));
  }

  function trace(points, extra) {
    return {
      x: points.map((p) => p.latency_ms), y: points.map((p) => p.score),
      customdata: points.map((p) => p.id), text: points.map(hoverText),
      hovertemplate: "%{text}<extra>%{fullData.name}</extra>", ...extra,
    };
  }

  function paretoPlot(data) {
    const front = [...data.front].sort((a, b) => a.latency_ms - b.latency_ms);
    const budget = data.search.request.latency_max_ms;
    const traces = [
      // SVG, not WebGL: the sample is at most 2,000 points (the endpoint's cap), which SVG draws faster
      // than a WebGL context starts in a browser without a GPU.
      trace(data.sample, { name: "candidates", type: "scatter", mode: "markers",
                           marker: { size: 5, color: data.sample.map((p) => (p.feasible ? FAINT : OUTSIDE)) } }),
      trace(front, { name: "front", type: "scatter", mode: "lines+markers",
                     line: { color: "#d9480f", width: 2 }, marker: { size: 9, color: "#d9480f" } }),
    ];
    const layout = {
      margin: { t: 20, r: 20, b: 50, l: 70 }, hovermode: "closest", legend: { orientation: "h", y: -0.2 },
      xaxis: { title: { text: "predicted latency (ms)" }, zeroline: false },
      yaxis: { title: { text: `proxy score (${proxyOf(data.search)})` }, zeroline: false },
      shapes: budget ? [{ type: "line", xref: "x", yref: "paper", x0: budget, x1: budget, y0: 0, y1: 1,
                          line: { color: "#c92a2a", dash: "dash", width: 2 } }] : [],
      annotations: budget ? [{ xref: "x", yref: "paper", x: budget, y: 1, yanchor: "bottom", showarrow: false,
                               text: `budget ${budget} ms`, font: { color: "#c92a2a" } }] : [],
    };
    Plotly.react(paretoDiv, traces, layout, NAS.plotConfig);
    if (!clickBound) {
      NAS.onPointClick(paretoDiv);
      clickBound = true;
    }
    const others = data.total - data.front.length;
    document.getElementById("plot-note").textContent = data.total === 0 ? "No candidates yet."
      : `${fmt.int(data.front.length)} on the front (all shown); ${fmt.int(data.sampled)} of the other `
        + `${fmt.int(others)} candidates shown.`;
  }

  function hypervolumePlot(history) {
    const trace = { x: history.map((h) => h[0]), y: history.map((h) => h[1]), name: "hypervolume",
                    type: "scatter", mode: "lines+markers", line: { color: "#1c7ed6" } };
    Plotly.react(hvDiv, [trace], {
      margin: { t: 20, r: 20, b: 50, l: 70 },
      xaxis: { title: { text: "candidates evaluated" }, rangemode: "tozero" },
      yaxis: { title: { text: "hypervolume" } },
    }, NAS.plotConfig);
  }

  function frontTable(front) {
    document.querySelector("#front tbody").replaceChildren(...front.map((p) => el("tr", { "data-candidate-id": p.id },
      el("td", { class: "score" }, fmt.score(p.score)),
      el("td", { class: "latency" }, fmt.ms(p.latency_ms)),
      el("td", { class: "params" }, fmt.count(p.params)),
      el("td", { class: "macs" }, fmt.count(p.macs)),
      el("td", { class: "arch" }, el("code", {}, p.arch)),
      el("td", { class: "link" }, el("a", { href: `/candidates/${p.id}` }, "open")))));
  }

  async function load() {
    const [result, caller] = await Promise.all([api(`/api/v1/searches/${id}/plot?points=2000`), NAS.me()]);
    who = caller;
    if (result.status === 404) {
      NAS.notFound(result);
      document.body.dataset.ready = "true";
      return;
    }
    pageError(result.ok ? null : `Could not read the search: ${problemText(result)}`);
    await NAS.scriptsLoaded;  // the first read starts before plotly.min.js has run (search.js comes first)
    const data = result.ok ? result.data : null;
    if (data) {
      header(data.search);
      paretoPlot(data);
      hypervolumePlot(data.search.history);
      frontTable(data.front);
    }
    document.body.dataset.ready = "true";
    // Polled while it runs; a failed read is tried again while it ran, or when the failure may pass
    // (the network, a busy server).
    const passing = result.status === 0 || result.status === 429 || result.status >= 500;
    live = data ? LIVE.has(data.search.status) : live;
    if (live || (!data && passing)) setTimeout(load, 2000);
  }

  cancel.addEventListener("click", async () => {
    const result = await postJSON(`/api/v1/searches/${id}/cancel`, {});
    if (result.ok) header(result.data);
    else pageError(`Could not cancel: ${problemText(result)}`);
  });

  load();
})();
