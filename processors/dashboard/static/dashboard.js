// The performance dashboard: polls dashboard/data and draws it. Everything is
// built with textContent, never innerHTML: route names and alert messages come
// from the services being watched.
(function () {
  "use strict";

  const REFRESH_MS = 30000;
  const SEVERITY_RANK = { good: 0, warning: 1, slow: 2, critical: 3 };
  const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const state = {
    window: "1h",
    service: new URLSearchParams(location.search).get("service"),
    sort: { key: "p95_ms", descending: true },
    routes: [],
    chart: null,
    timer: null,
  };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  function ms(value) {
    if (value === null || value === undefined) return "–";
    if (value >= 1000) return (value / 1000).toFixed(2) + " s";
    return (value >= 100 ? value.toFixed(0) : value.toFixed(1)) + " ms";
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : value.toFixed(1) + "%";
  }

  // Scores and hit rates share reference 000's bands: green from 80, amber from 60.
  function band(score) {
    if (score === null || score === undefined) return "";
    return score >= 80 ? "good" : score >= 60 ? "warn" : "bad";
  }

  function setText(id, text, cls) {
    const node = $(id);
    node.textContent = text;
    if (cls === undefined) return;
    node.classList.remove("good", "warn", "bad");
    if (cls) node.classList.add(cls);
  }

  function renderHealth(health) {
    const score = health ? health.score : null;
    setText("health-grade", health && health.grade ? health.grade : "–", band(score));
    setText("health-score", score === null ? "no data" : score.toFixed(1) + " / 100");
    const parts = $("health-parts");
    parts.replaceChildren();
    for (const [name, label] of [["latency", "Latency"], ["cache", "Cache"], ["errors", "Errors"]]) {
      const value = health ? health[name] : null;
      const bar = el("div", { class: "bar" }, el("span", { class: band(value), style: `width:${value || 0}%` }));
      parts.append(el("dt", {}, label), el("dd", {}, bar), el("dd", { class: band(value) }, value === null ? "–" : value.toFixed(0)));
    }
  }

  function renderOverview(overview) {
    const o = overview || {};
    setText("total-requests", overview ? integer.format(o.requests) : "–");
    setText("error-rate", overview && o.error_rate !== null ? `${percent(o.error_rate)} errors (5xx)` : "");
    setText("avg-response", ms(o.avg_ms));
    setText("p95-response", overview ? `p95 ${ms(o.p95_ms)}` : "");
    setText("cache-hit-rate", percent(o.cache_hit_rate), band(o.cache_hit_rate));
    setText("cache-rating", o.cache_rating ? o.cache_rating : overview ? "no cache look-ups" : "");
    const slowest = o.slowest_route;
    setText("slowest-route", slowest ? slowest.route : "–");
    const sub = $("slowest-p95");
    sub.replaceChildren();
    if (slowest) sub.append(`p95 ${ms(slowest.p95_ms)} `, el("span", { class: `badge ${slowest.severity}` }, slowest.severity));
  }

  function renderTrend(trend, windowName) {
    const box = $("trend");
    const points = trend ? trend.timestamps.length : 0;
    const hasData = !!trend && trend.p95_ms.concat(trend.avg_ms).some((v) => v !== null);
    if (state.chart) { state.chart.destroy(); state.chart = null; }
    box.dataset.window = windowName;
    box.dataset.points = String(points);
    $("trend-empty").hidden = hasData;
    box.hidden = !hasData;
    if (!hasData) return;
    const step = trend.step_s >= 3600 ? `${trend.step_s / 3600} h` : `${trend.step_s / 60} min`;
    $("trend-caption").textContent = `· avg and p95, one point per ${step}`;
    const opts = {
      width: Math.max(box.clientWidth, 300),
      height: 300,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      series: [
        {},
        { label: "avg", stroke: getComputedStyle(document.body).getPropertyValue("--avg"), width: 2, value: (u, v) => ms(v) },
        { label: "p95", stroke: getComputedStyle(document.body).getPropertyValue("--p95"), width: 2, dash: [6, 4], value: (u, v) => ms(v) },
      ],
      axes: [{}, { size: 70, values: (u, values) => values.map(ms) }],
    };
    state.chart = new uPlot(opts, [trend.timestamps, trend.avg_ms, trend.p95_ms], box);
  }

  function compareRoutes(a, b) {
    const { key, descending } = state.sort;
    const x = a[key], y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1; // unknowns last, either way
    if (y === null || y === undefined) return -1;
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return descending ? -order : order;
  }

  function renderRoutes() {
    const body = $("routes").querySelector("tbody");
    const rows = state.routes.slice().sort(compareRoutes);
    body.replaceChildren(...rows.map((r) => el("tr", {},
      el("td", {}, r.route),
      el("td", {}, integer.format(r.requests)),
      el("td", {}, ms(r.avg_ms)),
      el("td", {}, ms(r.p50_ms)),
      el("td", {}, ms(r.p95_ms)),
      el("td", {}, ms(r.p99_ms)),
      el("td", {}, percent(r.cache_hit_rate)),
      el("td", {}, r.severity ? el("span", { class: `badge ${r.severity}` }, r.severity) : "–"),
    )));
    $("routes-empty").hidden = rows.length > 0;
    for (const th of $("routes").querySelectorAll("th")) {
      if (th.dataset.key === state.sort.key) th.setAttribute("aria-sort", state.sort.descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
  }

  function routeList(title, items) {
    if (!items.length) return [];
    return [el("h3", {}, `${title} (${items.length})`),
      el("ul", { class: "list" }, ...items.map((i) => el("li", {}, el("code", {}, i.route), percent(i.hit_rate))))];
  }

  function renderCache(cache) {
    const box = $("cache");
    box.replaceChildren();
    if (!cache) { box.append(el("p", { class: "empty" }, "No data.")); return; }
    box.append(el("div", { class: `value ${band(cache.overall_hit_rate)}` }, percent(cache.overall_hit_rate)),
      el("div", { class: "sub" }, "overall hit rate"));
    const tiers = Object.entries(cache.tiers);
    if (tiers.length) box.append(el("h3", {}, "By tier"), el("ul", { class: "list" }, ...tiers.map(([t, v]) => el("li", {}, t, el("span", { class: band(v) }, percent(v))))));
    if (!cache.per_route) {
      box.append(el("p", { class: "empty" }, "Per-route hit rates come from a service's own dashboard (/api/v1/performance/dashboard)."));
      return;
    }
    const groups = [...routeList("High hit rate ≥ 70%", cache.high), ...routeList("Low hit rate", cache.low), ...routeList("No cache", cache.none)];
    box.append(...(groups.length ? groups : [el("p", { class: "empty" }, "No routes graded in the last hour.")]));
  }

  function renderGrades(grades) {
    const box = $("grades");
    box.replaceChildren();
    $("grades-caption").textContent = grades ? `· ${grades.source}` : "";
    if (!grades || !grades.categories.length) { box.append(el("p", { class: "empty" }, "No graded operations yet.")); return; }
    const cls = { A: "good", B: "good", C: "warn", D: "bad", F: "bad" };
    box.append(el("div", { class: "grades" }, ...grades.categories.flatMap((c) => [
      el("span", {}, c.category),
      el("span", { class: "muted" }, c.compliance === null || c.compliance === undefined ? "" : `${percent(c.compliance)} compliant`),
      el("span", { class: `letter ${cls[c.grade]}` }, c.grade),
    ])));
  }

  function renderAlerts(alerts) {
    const box = $("alerts");
    box.replaceChildren();
    $("alerts-caption").textContent = alerts ? `· ${alerts.source}` : "";
    if (!alerts) { box.append(el("p", { class: "empty" }, "No data.")); return; }
    if (!alerts.active.length) { box.append(el("p", { class: "good" }, "✓ No active alerts")); return; }
    box.append(...alerts.active.map((a) => el("div", { class: "alert" },
      el("span", { class: `badge ${a.severity === "critical" ? "critical" : "warning"}` }, a.severity || "alert"), " ",
      el("strong", {}, a.name || ""), el("div", { class: "sub" }, a.message || ""),
      a.since ? el("div", { class: "sub" }, `since ${new Date(a.since).toLocaleString("en-GB")}`) : "")));
  }

  function renderServices(doc) {
    $("service-name").textContent = doc.service ? `· ${doc.service}` : "";
    const picker = $("service-picker");
    picker.hidden = doc.mode !== "standalone" || !doc.services.length;
    if (picker.hidden) return;
    const select = $("service");
    select.replaceChildren(...doc.services.map((s) => el("option", { value: s }, s)));
    if (doc.service) select.value = doc.service;
  }

  function render(doc) {
    const banner = $("banner");
    banner.hidden = doc.prometheus.ok;
    banner.textContent = doc.prometheus.ok ? "" :
      `${doc.prometheus.error}. Totals, trend and routes need Prometheus; start it (otelpipe stack up) or point the dashboard at it (OTELPIPE_PROMETHEUS_URL / --prometheus).`;
    renderServices(doc);
    renderHealth(doc.health);
    renderOverview(doc.overview);
    state.routes = doc.routes.map((r) => ({ ...r, severity_rank: SEVERITY_RANK[r.severity] }));
    renderRoutes();
    renderTrend(doc.trend, doc.window);
    renderCache(doc.cache);
    renderGrades(doc.grades);
    renderAlerts(doc.alerts);
    $("updated").textContent = `Updated ${new Date(doc.timestamp * 1000).toLocaleTimeString("en-GB")} · window ${doc.window}`;
    document.body.dataset.window = doc.window;
    document.body.dataset.state = doc.prometheus.ok ? "ready" : "prometheus-down";
  }

  async function load() {
    clearTimeout(state.timer);
    document.body.dataset.state = "loading";
    const params = new URLSearchParams({ window: state.window });
    if (state.service) params.set("service", state.service);
    try {
      const response = await fetch(`dashboard/data?${params}`);
      if (!response.ok) throw new Error(`the dashboard data answered HTTP ${response.status}`);
      render(await response.json());
    } catch (error) {
      $("banner").hidden = false;
      $("banner").textContent = `Could not load the dashboard data: ${error.message}`;
      document.body.dataset.state = "error";
    }
    state.timer = setTimeout(load, REFRESH_MS);
  }

  $("windows").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-window]");
    if (!button) return;
    state.window = button.dataset.window;
    for (const b of $("windows").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
    load();
  });
  $("service").addEventListener("change", (event) => { state.service = event.target.value; load(); });
  $("routes").querySelector("thead").addEventListener("click", (event) => {
    const th = event.target.closest("th[data-key]");
    if (!th) return;
    const key = th.dataset.key;
    // A new column starts with its most telling order: names A-Z, numbers largest first.
    state.sort = state.sort.key === key
      ? { key, descending: !state.sort.descending }
      : { key, descending: th.dataset.type !== "text" };
    renderRoutes();
  });
  window.addEventListener("resize", () => { if (state.chart) state.chart.setSize({ width: $("trend").clientWidth, height: 300 }); });
  load();
})();
