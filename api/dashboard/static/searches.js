// The searches list: rows from GET /api/v1/searches (newest first), refreshed every 2 s in place,
// so ticked compare boxes survive a refresh. Where the service needs a key, each row names its owner
// (the key that submitted it) and the caller's own are marked "yours".
"use strict";

(() => {
  const { read, el, fmt } = NAS;
  const tbody = document.querySelector("#searches tbody");
  const empty = document.getElementById("searches-empty");
  const compare = document.getElementById("compare-selected");
  const rows = new Map();

  function newRow(s, who) {
    const yours = who.auth === "required" && Boolean(s.owner) && s.owner === who.name;
    const row = el("tr", { "data-search-id": s.id, "data-yours": yours ? "true" : null },
      el("td", { class: "pick" }, el("input", { type: "checkbox", class: "compare-pick", value: s.id,
                                                "aria-label": `compare search ${s.id}` })),
      el("td", { class: "id" }, el("a", { href: `/searches/${s.id}` }, String(s.id))),
      el("td", { class: "status" }),
      el("td", { class: "progress" }, el("progress", { value: 0, max: s.budget }), el("span", { class: "count" })),
      el("td", { class: "space" }, s.space),
      el("td", { class: "device" }, s.device),
      el("td", { class: "budget" }, String(s.budget)),
      el("td", { class: "best" }),
      el("td", { class: "created" }, fmt.time(s.created_at)),
      el("td", { class: "owner" }, s.owner || "-", yours ? el("span", { class: "badge yours" }, "yours") : null));
    rows.set(s.id, row);
    return row;
  }

  function update(row, s) {
    row.dataset.status = s.status;
    const cell = (name) => row.querySelector(`.${name}`);
    cell("status").textContent = s.status;
    cell("status").title = s.error || "";
    const bar = cell("progress").querySelector("progress");
    bar.max = s.budget;
    bar.value = s.evaluated;
    cell("progress").querySelector(".count").textContent = `${s.evaluated} / ${s.budget}`;
    cell("best").textContent = s.best_score === null ? "-" : fmt.score(s.best_score);
  }

  async function refresh() {
    const searches = await read("/api/v1/searches?limit=1000", "list the searches");
    if (!searches) return;
    const who = await NAS.me();
    searches.forEach((s, index) => {
      const row = rows.get(s.id) || newRow(s, who);
      update(row, s);
      if (tbody.children[index] !== row) tbody.insertBefore(row, tbody.children[index] || null);
    });
    empty.hidden = searches.length > 0;
    document.body.dataset.ready = "true";
  }

  function picked() {
    return [...tbody.querySelectorAll("input.compare-pick:checked")].map((box) => box.value);
  }

  tbody.addEventListener("change", () => { compare.disabled = picked().length === 0; });
  compare.addEventListener("click", () => {
    const ids = picked();
    if (ids.length) window.location.href = `/compare?ids=${ids.join(",")}`;
  });

  async function loop() {
    await refresh();
    setTimeout(loop, 2000);
  }
  loop();
})();
