{% verbatim %}
"use strict";
(function () {
  // Everything shown arrives over the socket; values are written with
  // textContent only, so nothing received is ever parsed as HTML.
  const WS_PATH = JSON.parse(document.getElementById("ws-path").textContent);
  const RECENT_ROWS = 20;
  const MAX_BACKOFF_MS = 15000;
  const conn = document.getElementById("conn");
  let breakers = {};
  let breakersAt = 0;
  let backoff = 500;

  function fmtInt(n) { return n == null ? "–" : Number(n).toLocaleString("en-US"); }
  function fmtUsd(n) {
    if (n == null) return "–";
    if (n === 0) return "$0";
    return "$" + Number(n).toFixed(n >= 1 ? 2 : n >= 0.01 ? 4 : 6);
  }
  function fmtMs(n) { return n == null ? "–" : Math.round(n) + " ms"; }
  function fmtPct(n) { return n == null ? "–" : (n * 100).toFixed(1) + "%"; }
  function fmtTime(epoch) {
    return new Date(epoch * 1000).toLocaleTimeString("en-GB", { hour12: false });
  }

  function setConn(state, text) {
    conn.dataset.state = state;
    conn.textContent = text;
    conn.className = "pill " + (state === "live" ? "pill-ok" : state === "down" ? "pill-bad" : "pill-wait");
  }

  function setMetric(name, text) {
    const el = document.querySelector('[data-metric="' + name + '"]');
    if (el) el.textContent = text;
  }

  function renderMetrics(m) {
    const total = m.total_requests || 0;
    setMetric("total_requests", fmtInt(total));
    setMetric("error_rate", total ? fmtPct(m.total_errors / total) : "–");
    setMetric("p50", fmtMs(m.latency_percentiles_ms && m.latency_percentiles_ms.p50));
    setMetric("p95", fmtMs(m.latency_percentiles_ms && m.latency_percentiles_ms.p95));
    setMetric("total_cost", fmtUsd(m.total_cost));
    setMetric("total_cost_avoided", fmtUsd(m.total_cost_avoided));
    setMetric("rate_limited", fmtInt(m.rate_limited));
    const cache = m.cache || {};
    setMetric("hit_rate", cache.enabled === false ? "off" : fmtPct(cache.hit_rate));
    setMetric("hits", fmtInt(cache.hits));
    setMetric("misses", fmtInt(cache.misses));
    setMetric("total_input_tokens", fmtInt(m.total_input_tokens));
    setMetric("total_output_tokens", fmtInt(m.total_output_tokens));
    setMetric("total_cached_tokens", fmtInt(m.total_cached_tokens));
    setMetric("tokens_saved", fmtInt(m.optimization && m.optimization.tokens_saved));
    if (m.circuit_breakers) setBreakers(m.circuit_breakers);
  }

  function renderStatus(status) {
    for (const [name, value] of Object.entries(status || {})) {
      const el = document.querySelector('[data-status="' + name + '"]');
      if (!el) continue;
      el.textContent = value;
      el.className = /ok|ready|enabled|memory/.test(value) ? "ok" : /error|down/.test(value) ? "bad" : "warn";
    }
  }

  function setBreakers(next) {
    breakers = next;
    breakersAt = performance.now();
    renderBreakers();
  }

  function renderBreakers() {
    const body = document.getElementById("breakers");
    const elapsed = (performance.now() - breakersAt) / 1000;
    const rows = Object.keys(breakers).sort().map(function (target) {
      const b = breakers[target];
      const left = b.cooldown_remaining_s == null ? null : Math.max(0, b.cooldown_remaining_s - elapsed);
      const cooldown = b.state === "open" && left != null ? left.toFixed(0) + " s" : "–";
      const state = el("span", b.state, "pill state-" + b.state);
      state.dataset.state = b.state;
      const tr = row([target, state, fmtInt(b.failures_in_window), cooldown, fmtInt(b.total_trips)]);
      tr.id = "breaker-" + target;
      tr.dataset.state = b.state;
      return tr;
    });
    body.replaceChildren.apply(body, rows);
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text != null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function row(cells, numericFrom) {
    const tr = document.createElement("tr");
    cells.forEach(function (cell, i) {
      const td = el("td", typeof cell === "object" ? null : cell);
      if (typeof cell === "object" && cell !== null) td.appendChild(cell);
      if (numericFrom != null && i >= numericFrom) td.className = "num";
      tr.appendChild(td);
    });
    return tr;
  }

  function requestRow(r) {
    const status = el("span", String(r.status), r.status >= 400 ? "bad" : "ok");
    const tr = row([
      fmtTime(r.time), r.client, r.surface, r.model, r.provider + (r.fallback ? " (fallback)" : ""),
      status, r.cache, fmtInt(r.input_tokens), fmtInt(r.output_tokens),
      fmtInt(r.cached_tokens), fmtUsd(r.cost_usd), fmtMs(r.latency_ms),
    ], 7);
    tr.dataset.requestId = r.request_id;
    return tr;
  }

  function addRequests(rows, fresh) {
    const body = document.getElementById("recent-body");
    rows.forEach(function (r) {
      const tr = requestRow(r);
      if (fresh) tr.className = "fresh";
      body.insertBefore(tr, body.firstChild);
    });
    while (body.children.length > RECENT_ROWS) body.removeChild(body.lastChild);
  }

  function renderChart(id, values, kind) {
    const svg = document.getElementById(id);
    const W = 300, H = 80, NS = "http://www.w3.org/2000/svg";
    const max = Math.max.apply(null, values.map(function (v) { return v || 0; }).concat([0]));
    const caption = svg.parentNode.querySelector("figcaption");
    caption.dataset.base = caption.dataset.base || caption.textContent;
    caption.textContent = caption.dataset.base + (max ? " · max " + (kind === "usd" ? fmtUsd(max) : fmtInt(Math.round(max))) : "");
    const step = W / Math.max(values.length, 1);
    const nodes = [];
    if (kind === "line" || kind === "usd") {
      const points = [];
      values.forEach(function (v, i) {
        if (v == null) return;
        const x = i * step + step / 2, y = H - 4 - (max ? v / max : 0) * (H - 8);
        points.push(x.toFixed(1) + "," + y.toFixed(1));
        if (v > 0) {
          // A dot per minute with traffic, so a lone minute still shows.
          const dot = document.createElementNS(NS, "circle");
          dot.setAttribute("cx", x.toFixed(1));
          dot.setAttribute("cy", y.toFixed(1));
          dot.setAttribute("r", "1.8");
          nodes.push(dot);
        }
      });
      const line = document.createElementNS(NS, "polyline");
      line.setAttribute("points", points.join(" "));
      nodes.unshift(line);
    } else {
      values.forEach(function (v, i) {
        if (!v) return;
        const h = (v / max) * (H - 4);
        const rect = document.createElementNS(NS, "rect");
        rect.setAttribute("x", (i * step + 0.5).toFixed(1));
        rect.setAttribute("y", (H - h).toFixed(1));
        rect.setAttribute("width", Math.max(step - 1, 1).toFixed(1));
        rect.setAttribute("height", h.toFixed(1));
        nodes.push(rect);
      });
    }
    svg.replaceChildren.apply(svg, nodes);
  }

  function renderSeries(series) {
    if (!series) return;
    renderChart("chart-requests", series.map(function (p) { return p.requests; }), "bars");
    renderChart("chart-latency", series.map(function (p) { return p.latency_ms; }), "line");
    renderChart("chart-spend", series.map(function (p) { return p.cost_usd; }), "usd");
  }

  const handlers = {
    snapshot: function (msg) {
      renderMetrics(msg.metrics);
      renderStatus(msg.status);
      renderSeries(msg.series);
      document.getElementById("recent-body").replaceChildren();
      addRequests(msg.recent || [], false);
    },
    metrics: function (msg) { renderMetrics(msg.metrics); renderSeries(msg.series); },
    requests: function (msg) { addRequests(msg.rows || [], true); },
    breakers: function (msg) { setBreakers(msg.breakers); },
  };

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + WS_PATH);
    setConn("connecting", "connecting…");
    socket.onopen = function () { backoff = 500; setConn("live", "live"); };
    socket.onmessage = function (event) {
      const msg = JSON.parse(event.data);
      const handler = handlers[msg.type];
      if (handler) handler(msg);
    };
    socket.onclose = function () {
      // Reconnect with capped, jittered exponential backoff; a new snapshot
      // on reconnect replaces whatever was missed meanwhile.
      const wait = backoff * (0.75 + Math.random() / 2);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      setConn("down", "reconnecting in " + Math.round(wait / 1000) + " s");
      setTimeout(connect, wait);
    };
  }

  setInterval(renderBreakers, 1000);
  connect();
})();
{% endverbatim %}
