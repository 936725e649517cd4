// The new-search form: its choices come from the REST API (the default device, preselected, from
// GET /api/v1/health), its body goes to POST /api/v1/searches as JSON (empty fields left out), and a
// refusal shows the API's own messages next to their fields. A viewer's key sees no submit button.
"use strict";

(() => {
  const { api, postJSON, el, showProblems, showFieldProblems, pageError, problemText } = NAS;
  const form = document.getElementById("search-form");
  const errors = document.getElementById("form-errors");
  const submit = document.getElementById("submit-search");
  const NUMBERS = new Set(["budget", "seed", "latency_max_ms", "params_max", "macs_max"]);

  function fill(select, names, labels = {}) {
    const chosen = select.value || select.dataset.default;
    select.replaceChildren(...names.map((name) => el("option", { value: name }, labels[name] || name)));
    if (names.includes(chosen)) select.value = chosen;
  }

  // The device a search that names none runs on, and how its latency table was made.
  function defaultDevice(health) {
    form.elements.device.dataset.default = health.default_device;
    const note = document.getElementById("default-latency");
    note.replaceChildren("Default device: ", el("strong", {}, health.default_device),
                         health.default_latency ? `, ${health.default_latency}.` : ".");
    note.hidden = false;
  }

  async function loadChoices() {
    const [spaces, devices, proxies, datasets, health] = await Promise.all(
      ["spaces", "devices", "proxies", "datasets", "health"].map((what) => api(`/api/v1/${what}`)));
    const failed = [spaces, devices, proxies, datasets].filter((r) => !r.ok);
    if (health.ok && health.data.default_device) defaultDevice(health.data);
    if (failed.length) pageError(`Could not load the form's choices: ${failed.map(problemText).join("; ")}`);
    if (spaces.ok) {
      fill(form.elements.space, spaces.data.map((s) => s.name),
           Object.fromEntries(spaces.data.map((s) => [s.name, `${s.name} (${s.title})`])));
    }
    if (devices.ok) {
      fill(form.elements.device, devices.data.map((d) => d.name),
           Object.fromEntries(devices.data.map((d) => [d.name, `${d.name}: ${d.profiles.map((p) => p.search_space).join(", ") || "no profiles"}`])));
    }
    if (proxies.ok) fill(form.elements.proxy, proxies.data.map((p) => p.name));
    if (datasets.ok) fill(form.elements.data, datasets.data.map((d) => d.name));
    document.body.dataset.ready = "true";
  }

  // Numbers go as JSON numbers; anything else goes as typed, so the API names what is wrong with it.
  function body() {
    const out = {};
    for (const field of form.querySelectorAll("[name]")) {
      const value = field.value.trim();
      if (value === "") continue;
      const number = Number(value);
      out[field.name] = NUMBERS.has(field.name) && Number.isFinite(number) ? number : value;
    }
    return out;
  }

  function show(problems) {
    showProblems(errors, problems);
    showFieldProblems(form, problems);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    show([]);
    submit.disabled = true;
    const result = await postJSON("/api/v1/searches", body());
    submit.disabled = false;
    if (result.ok && result.data && result.data.id) {
      window.location.href = `/searches/${result.data.id}`;
    } else {
      show(result.problems);
    }
  });

  loadChoices();
})();
