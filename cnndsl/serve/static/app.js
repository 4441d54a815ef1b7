// The cnndsl playground: the editor, the diagram, the table and the training panel. Everything cnndsl
// computes comes from the server's JSON API (cnndsl/serve/app.py); this script only shows it.
"use strict";

(async function () {
  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : String(n));
  const shape = (s) => (Array.isArray(s) ? s.join("×") : String(s));
  const DEBOUNCE_MS = 60; // a check this long after the last key: a word typed fast is checked once
  const KEYWORDS = ["network", "input", "block", "repeat", "branch", "concat", "add", "mul", "residual", "shortcut",
    "from", "aux", "expect"];

  async function post(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const type = r.headers.get("Content-Type") || "";
    if (type.includes("application/json")) { const data = await r.json(); return { status: r.status, data, receivedAt: performance.now() }; }
    return { status: r.status, blob: await r.blob(), receivedAt: performance.now() };
  }

  const start = await (await fetch("/api/start")).json();

  // ---- the editor ---------------------------------------------------------------------------------------
  const layerWords = new RegExp("(?:" + start.layers.join("|") + ")\\b");
  CodeMirror.defineSimpleMode("cnn", {
    start: [
      { regex: /#.*/, token: "comment" },
      { regex: /[A-Za-z_][\w]*(?=\s*:(?!=))/, token: "def", sol: true },
      { regex: new RegExp("(?:" + KEYWORDS.join("|") + ")\\b"), token: "keyword" },
      { regex: layerWords, token: "builtin" },
      { regex: /@[A-Za-z_]\w*/, token: "variable-2" },
      { regex: /[A-Za-z_]\w*(?==)/, token: "attribute" },
      { regex: /\d+(?:x\d+)*(?:\.\d+)?(?:e[-+]?\d+)?/i, token: "number" },
      { regex: /true|false|same|valid/, token: "atom" },
      { regex: /[{}()]/, token: "bracket" },
    ],
  });
  const cm = CodeMirror.fromTextArea($("source"), {
    lineNumbers: true, mode: "cnn", indentUnit: 2, tabSize: 2, lineWrapping: false,
    extraKeys: { Tab: (c) => c.replaceSelection("  ") },
  });
  window.cnndslEditor = cm; // for tests and for the curious

  const storeKey = "cnndsl:text:" + (start.name || "scratch");
  async function exampleText(name) {
    const r = await fetch("/api/example/" + encodeURIComponent(name));
    return r.ok ? (await r.json()).text : "";
  }
  let text = localStorage.getItem(storeKey);
  if (text === null) text = start.text !== null ? start.text : await exampleText("lenet5");
  cm.setValue(text);
  cm.clearHistory();

  // ---- the examples menu ------------------------------------------------------------------------------
  const examples = await (await fetch("/api/examples")).json();
  const menu = $("examples");
  for (const group of ["architectures", "lessons"]) {
    const og = document.createElement("optgroup");
    og.label = group === "architectures" ? "shipped architectures" : "the lessons' networks";
    for (const e of examples.filter((x) => x.group === group)) {
      const o = document.createElement("option");
      o.value = e.name;
      o.textContent = e.name + (e.title ? " — " + e.title : "");
      og.appendChild(o);
    }
    menu.appendChild(og);
  }
  menu.addEventListener("change", async () => {
    if (!menu.value) return;
    cm.setValue(await exampleText(menu.value));
    cm.clearHistory();
    menu.value = "";
    picked = null;
    $("explain").hidden = true;
  });

  // ---- checking as you type ---------------------------------------------------------------------------
  let timer = null, seq = 0, applied = 0, last = null, panZoom = null, marks = [], widgets = [], picked = null;
  let training = false, source = null, chart = null;
  const state = { checks: 0 };
  document.body.dataset.state = "starting";

  function options() {
    const d = $("depth").value;
    return { depth: d === "auto" ? "auto" : d === "all" ? null : Number(d), rankdir: $("rankdir").value };
  }

  cm.on("change", () => {
    localStorage.setItem(storeKey, cm.getValue());
    clearTimeout(timer);
    timer = setTimeout(check, DEBOUNCE_MS);
  });
  $("depth").addEventListener("change", check);
  $("rankdir").addEventListener("change", () => { panZoom = null; check(); });

  let typedAt = null;
  cm.on("keydown", () => { typedAt = performance.now(); });

  async function check() {
    const mine = ++seq;
    const began = performance.now();
    const typed = typedAt;
    let res;
    try {
      res = await post("/api/check", { text: cm.getValue(), ...options() });
    } catch (e) {
      setStatus("the server does not answer: is `cnndsl serve` still running?", true);
      return;
    }
    if (mine < applied) return; // an older answer, overtaken by a newer one
    applied = mine;
    clearMarks();
    const data = res.data;
    if (data && data.ok) {
      showNetwork(data);
      const t = data.seconds || {};
      setStatus(`✓ ${data.name}: ${fmt(data.summary.totals.params)} parameters, ${fmt(data.summary.totals.macs)} MACs`
        + ` — checked in ${Math.round((t.check || 0) * 1000)} ms, drawn in ${Math.round((t.draw || 0) * 1000)} ms`
        + ` (${Math.round(performance.now() - began)} ms in all)`, false);
      document.body.dataset.state = "ok";
    } else {
      const errors = (data && data.errors) || [{ message: "the server could not check the text", line: null }];
      showErrors(errors);
      $("diagram").classList.add("stale");
      $("bottom").classList.add("stale");
      setStatus(`✗ ${errors.length} error${errors.length === 1 ? "" : "s"} — the diagram shows the last network that checked`, true);
      document.body.dataset.state = "error";
    }
    state.checks += 1;
    const done = performance.now();
    document.body.dataset.timing = JSON.stringify({ typed_to_request: typed ? began - typed : null,
      request: res.receivedAt - began, render: done - res.receivedAt, total: typed ? done - typed : null,
      server: data && data.seconds ? data.seconds.server : null });
    typedAt = null;
    document.body.dataset.checks = String(state.checks);
  }

  function setStatus(text, bad) {
    $("status").textContent = text;
    $("status").classList.toggle("bad", !!bad);
  }

  function clearMarks() {
    for (const m of marks) m.clear();
    for (const w of widgets) w.clear();
    cm.eachLine((h) => { cm.removeLineClass(h, "background", "cm-error-line"); cm.removeLineClass(h, "background", "cm-note-line"); });
    marks = []; widgets = [];
    $("errors").innerHTML = "";
  }

  function showErrors(errors) {
    const list = $("errors");
    for (const e of errors) {
      const div = document.createElement("div");
      div.className = "err";
      const where = e.line ? `line ${e.line}${e.column ? ":" + e.column : ""}` : "";
      div.innerHTML = "<b></b> <span></span>";
      div.querySelector("b").textContent = where ? where + ":" : "error:";
      div.querySelector("span").textContent = e.message + (e.hint ? " — " + e.hint : "");
      list.appendChild(div);
      if (!e.line || e.line > cm.lineCount()) continue;
      const line = e.line - 1;
      div.addEventListener("click", () => { cm.setCursor({ line, ch: (e.column || 1) - 1 }); cm.focus(); });
      cm.addLineClass(line, "background", "cm-error-line");
      const from = { line, ch: Math.max((e.column || 1) - 1, 0) };
      const endLine = Math.min((e.end_line || e.line) - 1, cm.lineCount() - 1);
      let to = { line: endLine, ch: Math.max((e.end_column || e.column || 1) - 1, from.ch + 1) };
      if (to.line === from.line && to.ch <= from.ch) to = { line, ch: from.ch + 1 };
      marks.push(cm.markText(from, to, { className: "cm-error-mark", title: e.message }));
      const w = document.createElement("div");
      w.className = "err-widget";
      w.textContent = e.message;
      if (e.hint) {
        const h = document.createElement("div");
        h.className = "hint";
        h.textContent = "hint: " + e.hint;
        w.appendChild(h);
      }
      widgets.push(cm.addLineWidget(line, w, { coverGutter: false, noHScroll: true }));
    }
  }

  // ---- the diagram ------------------------------------------------------------------------------------
  function cleanSvg(source) {
    const doc = new DOMParser().parseFromString(source, "image/svg+xml");
    const svg = doc.documentElement;
    if (svg.nodeName !== "svg") return null;
    svg.querySelectorAll("script, foreignObject").forEach((n) => n.remove());
    svg.querySelectorAll("*").forEach((n) => {
      for (const a of [...n.attributes]) {
        if (a.name.startsWith("on") || (/href$/i.test(a.name) && /^\s*javascript:/i.test(a.value))) n.removeAttribute(a.name);
      }
    });
    return document.importNode(svg, true);
  }

  function showNetwork(data) {
    const box = $("diagram");
    box.classList.remove("stale");
    $("bottom").classList.remove("stale");
    $("diagram-note").textContent = data.drawing_error ? data.drawing_error.message : "scroll to zoom, drag to pan, click a box";
    let view = null;
    if (panZoom && last && last.name === data.name) view = { zoom: panZoom.getZoom(), pan: panZoom.getPan() };
    if (panZoom) { try { panZoom.destroy(); } catch (e) { /* replaced below */ } panZoom = null; }
    box.innerHTML = "";
    if (data.svg) {
      const svg = cleanSvg(data.svg);
      if (svg) {
        svg.removeAttribute("width"); svg.removeAttribute("height");
        svg.setAttribute("width", "100%"); svg.setAttribute("height", "100%");
        box.appendChild(svg);
        panZoom = svgPanZoom(svg, { zoomEnabled: true, controlIconsEnabled: true, fit: true, center: true,
          minZoom: 0.05, maxZoom: 40, dblClickZoomEnabled: false });
        if (view) { panZoom.zoom(view.zoom); panZoom.pan(view.pan); } else readable(panZoom);
      }
    }
    last = data;
    showTable(data.summary);
    const t = data.trainable;
    $("train-start").disabled = !t.ok || training;
    $("train-start").title = t.ok ? "train for a few epochs on scikit-learn's 8×8 digits" : t.why;
    if (!training) $("train-status").textContent = t.ok ? "" : t.why;
    if (picked && !data.summary.layers.some((r) => r.name === picked) && !Object.values(data.units).some((u) => u.node === picked)) {
      picked = null;
      $("explain").hidden = true;
    }
    if (picked) markPicked(picked);
  }

  // A long network fitted whole is too small to read: fit its width instead (at most life size), from the top.
  function readable(pz) {
    const s = pz.getSizes();
    const fitWidth = Math.min(s.width / s.viewBox.width, 1.0);
    if (fitWidth <= s.realZoom * 1.05) return;
    pz.zoom(pz.getZoom() * fitWidth / s.realZoom);
    const after = pz.getSizes();
    pz.pan({ x: (after.width - after.viewBox.width * after.realZoom) / 2, y: 8 });
  }

  $("diagram").addEventListener("click", (ev) => {
    const g = ev.target.closest("g.node");
    if (!g || !last) return;
    const title = g.querySelector("title");
    const unit = title && last.units[title.textContent];
    if (!unit) return;
    pick(unit.node, unit.line);
  });

  function markPicked(node) {
    document.querySelectorAll("#diagram g.node.picked").forEach((n) => n.classList.remove("picked"));
    document.querySelectorAll("#diagram g.node").forEach((g) => {
      const t = g.querySelector("title");
      const u = t && last && last.units[t.textContent];
      if (u && u.node === node) g.classList.add("picked");
    });
    document.querySelectorAll("#summary tr.picked").forEach((r) => r.classList.remove("picked"));
    const row = document.querySelector(`#summary tr[data-node="${CSS.escape(node)}"]`);
    if (row) row.classList.add("picked");
  }

  async function pick(node, line) {
    picked = node;
    if (line) {
      const l = line - 1;
      cm.setSelection({ line: l, ch: 0 }, { line: l, ch: cm.getLine(l).length });
      cm.scrollIntoView({ line: l, ch: 0 }, 80);
      cm.focus();
    }
    markPicked(node);
    const res = await post("/api/explain", { text: cm.getValue(), node });
    const d = res.data;
    if (!d || !d.ok) return;
    $("explain").hidden = false;
    $("explain-title").textContent = d.title;
    const body = $("explain-body");
    body.innerHTML = "";
    const sub = document.createElement("div");
    sub.textContent = d.subtitle;
    body.appendChild(sub);
    const table = document.createElement("table");
    for (const s of d.steps) {
      const tr = document.createElement("tr");
      const value = Array.isArray(s.value) ? s.value.join("×") : fmt(s.value);
      tr.innerHTML = "<td></td><td class='formula'></td><td class='value'></td>";
      tr.children[0].textContent = s.what;
      tr.children[1].textContent = s.formula;
      tr.children[2].textContent = value + (s.unit ? " " + s.unit : "");
      table.appendChild(tr);
      if (s.why) {
        const why = document.createElement("tr");
        why.innerHTML = "<td></td><td class='why' colspan='2'></td>";
        why.children[1].textContent = s.why;
        table.appendChild(why);
      }
    }
    body.appendChild(table);
  }
  $("explain-close").addEventListener("click", () => { $("explain").hidden = true; });

  // ---- the table --------------------------------------------------------------------------------------
  function showTable(summary) {
    const t = summary.totals;
    $("totals").innerHTML = "";
    for (const [k, label] of [["params", "parameters"], ["macs", "MACs"], ["flops", "FLOPs"], ["activation_bytes", "activation bytes per image"]]) {
      const span = document.createElement("span");
      span.innerHTML = "<b></b> ";
      span.firstChild.textContent = fmt(t[k]);
      span.appendChild(document.createTextNode(label));
      span.dataset.total = k;
      $("totals").appendChild(span);
    }
    const out = document.createElement("span");
    out.textContent = `output ${shape(summary.output)}`;
    $("totals").appendChild(out);
    const head = $("summary").tHead;
    head.innerHTML = "<tr><th>layer</th><th>op</th><th class='num'>output</th><th class='num'>params</th><th class='num'>MACs</th><th class='num'>receptive field</th><th class='num'>line</th></tr>";
    const body = $("summary").tBodies[0];
    body.innerHTML = "";
    let block = null;
    for (const r of summary.layers) {
      if (r.block && r.block !== block) {
        const tr = document.createElement("tr");
        tr.className = "block";
        tr.innerHTML = "<td colspan='7'></td>";
        tr.firstChild.textContent = r.block;
        body.appendChild(tr);
      }
      block = r.block;
      const tr = document.createElement("tr");
      tr.dataset.node = r.name;
      const cells = [r.name, r.describe, shape(r.output_shape), fmt(r.params), fmt(r.macs),
        Array.isArray(r.receptive_field) ? r.receptive_field.join("×") : String(r.receptive_field), String(r.line)];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c;
        if (i >= 2) td.className = "num";
        tr.appendChild(td);
      });
      tr.addEventListener("click", () => pick(r.name, r.line));
      body.appendChild(tr);
    }
  }

  // ---- downloads --------------------------------------------------------------------------------------
  function download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  const stem = () => (last ? last.name.toLowerCase() : "network");
  $("dl-cnn").addEventListener("click", () => download(new Blob([cm.getValue()], { type: "text/plain" }), stem() + ".cnn"));
  $("dl-svg").addEventListener("click", () => { if (last && last.svg) download(new Blob([last.svg], { type: "image/svg+xml" }), stem() + ".svg"); });
  $("dl-json").addEventListener("click", () => { if (last) download(new Blob([JSON.stringify(last.summary, null, 2)], { type: "application/json" }), stem() + ".json"); });
  $("dl-onnx").addEventListener("click", async () => {
    const res = await post("/api/onnx", { text: cm.getValue() });
    if (res.blob) download(res.blob, stem() + ".onnx");
    else setStatus("ONNX: " + ((res.data && res.data.errors && res.data.errors[0].message) || "failed"), true);
  });

  // ---- training ---------------------------------------------------------------------------------------
  function newChart() {
    if (chart) chart.destroy();
    chart = new Chart($("chart"), {
      type: "line",
      data: { datasets: [
        { label: "training loss", data: [], yAxisID: "loss", borderColor: "#1f77b4", pointRadius: 0, borderWidth: 1.5 },
        { label: "validation accuracy", data: [], yAxisID: "acc", borderColor: "#2ca02c", pointRadius: 3, borderWidth: 2 },
      ] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
        scales: { x: { type: "linear", title: { display: true, text: "step" } },
          loss: { type: "linear", position: "left", title: { display: true, text: "loss" }, beginAtZero: true },
          acc: { type: "linear", position: "right", min: 0, max: 1, title: { display: true, text: "accuracy" }, grid: { drawOnChartArea: false } } } },
    });
  }
  function setTraining(on) {
    training = on;
    $("train-start").disabled = on || !(last && last.trainable.ok);
    $("train-stop").disabled = !on;
  }
  $("train-start").addEventListener("click", async () => {
    const epochs = Math.max(1, Math.min(20, parseInt($("epochs").value, 10) || 3));
    const res = await post("/api/train", { text: cm.getValue(), epochs });
    if (!res.data || !res.data.ok) {
      $("train-status").textContent = (res.data && res.data.errors[0].message) || "could not start";
      return;
    }
    setTraining(true);
    $("train-out").hidden = false;
    $("maps").hidden = true;
    newChart();
    $("train-status").textContent = "starting…";
    follow();
  });
  $("train-stop").addEventListener("click", async () => { await post("/api/train/stop", {}); });

  function follow() {
    if (source) source.close();
    source = new EventSource("/api/train/events");
    source.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.kind === "start") {
        $("train-status").textContent = `training on ${e.data}: ${e.epochs} epochs of ${e.steps_per_epoch} steps`;
      } else if (e.kind === "progress") {
        chart.data.datasets[0].data.push({ x: e.step, y: e.loss });
        chart.update("none");
        $("train-status").textContent = `epoch ${e.epoch}, step ${e.step}: loss ${e.loss.toFixed(3)} (${e.seconds.toFixed(1)} s)`;
      } else if (e.kind === "epoch") {
        chart.data.datasets[1].data.push({ x: e.step, y: e.val_accuracy });
        chart.update("none");
        $("train-status").textContent = `epoch ${e.epoch}: validation accuracy ${(100 * e.val_accuracy).toFixed(1)} %`;
      } else if (e.kind === "done") {
        $("maps").src = "data:image/png;base64," + e.maps;
        $("maps").hidden = false;
        $("train-status").textContent = `done in ${e.seconds.toFixed(1)} s: test accuracy ${(100 * e.test_accuracy).toFixed(1)} %; below, what it does to one test digit`;
        end();
      } else if (e.kind === "stopped") {
        $("train-status").textContent = "stopped";
        end();
      } else if (e.kind === "error") {
        $("train-status").textContent = "✗ " + e.errors.map((x) => x.message).join("; ");
        end();
      }
    };
    source.onerror = () => { if (!training) source.close(); };
  }
  function end() { setTraining(false); if (source) { source.close(); source = null; } document.body.dataset.training = "ended"; }

  check();
})();
