// One candidate: the page holds its scores and metrics; its blocks (the latency-table keys, in
// network order) come from GET /api/v1/candidates/{id}/architecture, which builds the network.
"use strict";

(() => {
  const { api, el, fmt } = NAS;
  const id = document.querySelector("main").dataset.candidateId;
  const status = document.getElementById("blocks-status");

  async function load() {
    const result = await api(`/api/v1/candidates/${id}/architecture`);
    if (!result.ok) {
      status.textContent = `Could not build the network: ${NAS.problemText(result)}`;
      status.classList.add("page-error");
    } else {
      const model = result.data;
      document.getElementById("blocks").replaceChildren(...model.blocks.map((key) => el("li", {}, key)));
      status.textContent = `${model.blocks.length} blocks at ${model.resolution}x${model.resolution}, `
        + `${model.layers.length} layers, ${fmt.count(model.params)} params, ${model.num_classes} classes.`;
    }
    document.body.dataset.ready = "true";
  }

  load();
})();
