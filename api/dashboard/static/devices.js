// Devices: the registry from GET /api/v1/devices with every profile version's coverage, validation and
// origin (measured, or fitted from end-to-end measurements), a form to register a device, one to upload a
// profile document (the file is the body), and one to fit a device from a CSV of arch,ms (the file is
// the body, text/csv). A viewer's key sees no forms; the profile form offers the devices the caller may
// add a profile to (a member its own, an admin any; no one a shipped one).
"use strict";

(() => {
  const { api, read, postJSON, el, fmt, showProblems, showFieldProblems } = NAS;
  const tbody = document.querySelector("#devices tbody");
  const deviceForm = document.getElementById("device-form");
  const profileForm = document.getElementById("profile-form");
  const select = profileForm.elements.device;
  const fitForm = document.getElementById("fit-form");

  function profileItem(p) {
    const v = p.validation || {};
    return el("li", { class: "profile", "data-space": p.search_space, "data-version": p.version },
      el("span", { class: "space" }, p.search_space),
      el("span", { class: "version" }, `v${p.version}`),
      el("span", { class: "runtime" }, p.runtime),
      el("span", { class: "coverage", title: `${p.block_keys} of ${p.required_keys} block keys` },
         `coverage ${fmt.pct(p.coverage)}`),
      el("span", { class: "within", title: "share of validation networks predicted within ±10 %" },
         `±10 %: ${fmt.pct(v.within_10pct)}`),
      el("span", { class: "mape", title: `mean absolute percentage error on ${v.n ?? 0} networks` },
         `MAPE ${fmt.pct(v.mape)}`),
      origin(p));
  }

  // How the profile was made: block by block (nas profile), or fitted from whole networks timed end to end.
  function origin(p) {
    if (!p.fit) {
      return el("span", { class: "origin", title: "measured block by block with nas profile" }, "measured");
    }
    const v = p.validation || {};
    return el("span", { class: "origin fitted", title: p.fit.method },
      `fitted from ${p.fit.n} measurements (leave-one-out Spearman ${fmt.score(v.spearman)}, `
      + `±10 %: ${fmt.pct(v.within_10pct)})`);
  }

  function deviceRow(d) {
    return el("tr", { "data-device": d.name },
      el("td", { class: "name" }, el("strong", {}, d.name), d.shipped ? el("span", { class: "badge" }, "shipped") : null,
         d.calibrating && d.calibrating.length
           ? el("span", { class: "badge calibrating" }, `calibrating: ${d.calibrating.join(", ")}`) : null,
         d.description ? el("div", { class: "muted" }, d.description) : null),
      el("td", { class: "hardware" }, d.hardware || "-"),
      el("td", { class: "profiles" }, d.profiles.length
        ? el("ul", { class: "profiles" }, d.profiles.map(profileItem))
        : el("span", { class: "muted" }, "no profiles yet")));
  }

  async function refresh() {
    const [devices, who] = await Promise.all([read("/api/v1/devices", "list the devices"), NAS.me()]);
    if (!devices) return;
    tbody.replaceChildren(...devices.map(deviceRow));
    const chosen = select.value;
    const open = devices.filter((d) => !d.shipped && NAS.mayChange(who, d.owner));
    select.replaceChildren(...open.map((d) => el("option", { value: d.name }, d.name)));
    if (open.some((d) => d.name === chosen)) select.value = chosen;
    document.body.dataset.ready = "true";
  }

  function note(id, text) {
    const box = document.getElementById(id);
    box.textContent = text || "";
    box.hidden = !text;
  }

  deviceForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = document.getElementById("device-errors");
    const body = {};
    for (const field of deviceForm.querySelectorAll("input[name]")) {
      if (field.value.trim() !== "") body[field.name] = field.value.trim();
    }
    note("device-result", null);
    const result = await postJSON("/api/v1/devices", body);
    showProblems(errors, result.problems);
    showFieldProblems(deviceForm, result.problems);
    if (!result.ok) return;
    note("device-result", `Registered ${result.data.name}: upload its profile next.`);
    deviceForm.reset();
    await refresh();
    select.value = result.data.name;
  });

  profileForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = document.getElementById("upload-errors");
    const file = profileForm.elements.profile.files[0];
    note("upload-result", null);
    if (!select.value || !file) {
      showProblems(errors, [{ field: "", msg: !select.value ? "device: choose a device" : "profile: choose a JSON file" }]);
      return;
    }
    const result = await api(`/api/v1/devices/${encodeURIComponent(select.value)}/profiles`,
                             { method: "POST", headers: { "content-type": "application/json" }, body: file });
    showProblems(errors, result.problems);
    if (!result.ok) return;
    const p = result.data;
    note("upload-result", `Stored ${p.device}'s ${p.search_space} profile, version ${p.version} `
      + `(coverage ${fmt.pct(p.coverage)}).`);
    profileForm.elements.profile.value = "";
    await refresh();
  });

  async function loadSpaces() {
    const spaces = await read("/api/v1/spaces", "list the search spaces");
    if (!spaces) return;
    fitForm.elements.space.replaceChildren(...spaces.map((s) => el("option", { value: s.name }, s.name)));
  }

  fitForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = document.getElementById("fit-errors");
    const { name, space, hardware } = fitForm.elements;
    const file = fitForm.elements.measurements.files[0];
    note("fit-result", null);
    const missing = [!name.value.trim() && "name: give the device's name", !space.value && "space: choose a space",
                     !file && "measurements: choose a CSV file"].filter(Boolean);
    if (missing.length) {
      showProblems(errors, missing.map((msg) => ({ field: "", msg })));
      return;
    }
    const query = new URLSearchParams({ space: space.value });
    if (hardware.value.trim()) query.set("hardware", hardware.value.trim());
    const result = await api(`/api/v1/devices/${encodeURIComponent(name.value.trim())}/measurements?${query}`,
                             { method: "POST", headers: { "content-type": "text/csv" }, body: file });
    showProblems(errors, result.problems);
    if (!result.ok) return;
    const p = result.data;
    const v = p.validation || {};
    note("fit-result", `${p.device_created ? `Registered ${p.device}; stored` : "Stored"} its ${p.search_space} `
      + `profile, version ${p.version}: fitted from ${p.fit.n} measurements; leave-one-out Spearman `
      + `${fmt.score(v.spearman)}, MAPE ${fmt.pct(v.mape)}, ${fmt.pct(v.within_10pct)} within ±10 %.`);
    fitForm.elements.measurements.value = "";
    await refresh();
  });

  loadSpaces();
  refresh();
})();
