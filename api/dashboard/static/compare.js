// Compare: the fronts of several searches overlaid, one trace per search, each read from
// GET /api/v1/searches/{id}/plot?points=0 (the front only). The ids live in the URL (?ids=1,2).
"use strict";

(() => {
  const { api, el, showProblems, hoverText } = NAS;
  const input = document.getElementById("compare-ids");
  const errors = document.getElementById("compare-errors");
  const list = document.getElementById("compare-list");
  const plot = document.getElementById("compare-plot");
  let clickBound = false;

  function parse(text) {
    const tokens = text.split(/[\s,]+/).filter(Boolean);
    const bad = tokens.filter((t) => !/^[1-9]\d{0,17}$/.test(t));
    return { ids: [...new Set(tokens.filter((t) => !bad.includes(t)))], bad };
  }

  function setIds(ids) {
    input.value = ids.join(", ");
    const url = ids.length ? `/compare?ids=${ids.join(",")}` : "/compare";
    window.history.replaceState(null, "", url);
  }

  async function draw(ids, problems = []) {
    const results = await Promise.all(ids.map((id) => api(`/api/v1/searches/${id}/plot?points=0`)));
    const traces = [];
    list.replaceChildren();
    results.forEach((result, index) => {
      const id = ids[index];
      if (!result.ok) {
        problems.push(...result.problems.map((p) => ({ field: "ids", msg: `#${id}: ${p.msg}` })));
        return;
      }
      const { search, front } = result.data;
      const name = `#${search.id} ${search.space} on ${search.device}`;
      const sorted = [...front].sort((a, b) => a.latency_ms - b.latency_ms);
      traces.push({ name, type: "scatter", mode: "lines+markers", x: sorted.map((p) => p.latency_ms),
                    y: sorted.map((p) => p.score), customdata: sorted.map((p) => p.id),
                    text: sorted.map(hoverText), hovertemplate: "%{text}<extra>%{fullData.name}</extra>" });
      list.append(el("li", { "data-search-id": search.id },
        el("a", { href: `/searches/${search.id}` }, name), ` (${search.status}, ${front.length} on the front) `,
        el("button", { type: "button", class: "remove", "data-search-id": search.id,
                       "aria-label": `remove search ${search.id}` }, "×")));
    });
    showProblems(errors, problems);
    Plotly.react(plot, traces, {
      margin: { t: 20, r: 20, b: 50, l: 70 }, hovermode: "closest", showlegend: true,
      legend: { orientation: "h", y: -0.2 },
      xaxis: { title: { text: "predicted latency (ms)" } }, yaxis: { title: { text: "proxy score" } },
    }, NAS.plotConfig);
    if (!clickBound) {
      NAS.onPointClick(plot);
      clickBound = true;
    }
    document.body.dataset.ready = "true";
  }

  function show(text) {
    const { ids, bad } = parse(text);
    setIds(ids);
    return draw(ids, bad.map((t) => ({ field: "ids", msg: `ids: ${JSON.stringify(t)} is not a search id` })));
  }

  document.getElementById("compare-form").addEventListener("submit", (event) => {
    event.preventDefault();
    show(input.value);
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.remove");
    if (!button) return;
    show(parse(input.value).ids.filter((id) => id !== button.dataset.searchId).join(","));
  });

  show(new URLSearchParams(window.location.search).get("ids") || "");
})();
