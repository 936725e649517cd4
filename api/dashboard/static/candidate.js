// One candidate: its scores and metrics from GET /api/v1/candidates/{id}, its search's space and device
// from GET /api/v1/searches/{search_id}, and its blocks (the latency-table keys, in network order) from
// GET /api/v1/candidates/{id}/architecture, which builds the network. The export links, followed as
// they are with no key, are fetched with the key where one is kept.
"use strict";

(() => {
  const { api, el, fmt, pageError, problemText } = NAS;
  const id = document.querySelector("main").dataset.candidateId;
  const status = document.getElementById("blocks-status");

  function metric(name, value) {
    document.querySelector(`#metrics dd[data-metric="${name}"]`).textContent = value;
  }

  function origin(candidate, search) {
    const flags = [candidate.is_pareto ? "on the front" : null, candidate.feasible ? null : "outside the constraints"]
      .filter(Boolean).map((flag) => [", ", el("strong", {}, flag)]);
    document.getElementById("candidate-origin").replaceChildren(
      "From ", el("a", { id: "search-link", href: `/searches/${candidate.search_id}` }, `search #${candidate.search_id}`),
      search ? ` (${search.space} on ${search.device})` : "", ...flags.flat(), ".");
  }

  function show(candidate) {
    document.getElementById("arch").textContent = candidate.arch;
    document.getElementById("arch-hash").textContent = candidate.arch_hash;
    metric("score", String(Number(candidate.score.toPrecision(6))));
    metric("params", fmt.int(candidate.params));
    metric("macs", fmt.int(candidate.macs));
    metric("latency_ms", `${candidate.latency_ms.toFixed(3)} ms`);
    const names = Object.keys(candidate.scores).sort();
    document.querySelector("#scores tbody").replaceChildren(...names.map((name) => el("tr", { "data-proxy": name },
      el("td", { class: "name" }, name),
      el("td", { class: "value" }, String(Number(candidate.scores[name].toPrecision(6)))))));
  }

  async function blocks() {
    const result = await api(`/api/v1/candidates/${id}/architecture`);
    if (!result.ok) {
      status.textContent = `Could not build the network: ${problemText(result)}`;
      status.classList.add("page-error");
      return;
    }
    const model = result.data;
    document.getElementById("blocks").replaceChildren(...model.blocks.map((key) => el("li", {}, key)));
    status.textContent = `${model.blocks.length} blocks at ${model.resolution}x${model.resolution}, `
      + `${model.layers.length} layers, ${fmt.count(model.params)} params, ${model.num_classes} classes.`;
  }

  async function load() {
    const found = await api(`/api/v1/candidates/${id}`);
    if (found.status === 404) {
      NAS.notFound(found);
    } else if (!found.ok) {
      pageError(`Could not read the candidate: ${problemText(found)}`);
      status.textContent = "";
    } else {
      show(found.data);
      const [search] = await Promise.all([api(`/api/v1/searches/${found.data.search_id}`), blocks()]);
      origin(found.data, search.ok ? search.data : null);
      if (!search.ok) pageError(`Could not read its search: ${problemText(search)}`);
    }
    document.body.dataset.ready = "true";
  }

  for (const link of document.querySelectorAll("a.export")) link.addEventListener("click", NAS.downloadWithKey);
  load();
})();
