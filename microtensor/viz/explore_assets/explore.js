// microtensor explorer: draws the graph Python laid out and steps through the backward pass
// Python recorded. Everything it shows comes from the JSON block #mt-data; text from the data
// goes into the DOM through textContent, or through esc() when building SVG markup, never raw.
(function () {
  "use strict";
  const t0 = performance.now();
  const D = JSON.parse(document.getElementById("mt-data").textContent);
  const N = D.nodes, E = D.edges, G = D.groups, S = D.steps;
  const MAX_PARTS = 32;  // parts of a sum listed in the panel (a shared weight can have 1000s)
  let step = -1;
  let selected = -1;
  let scale = 1;
  const collapsed = G.map(function () { return !!D.collapsed; });

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function num(v) {
    if (typeof v === "string") return v;
    if (v === 0) return "0";
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    return String(Number(v.toPrecision(6)));
  }
  function fmtShape(s) {
    if (!s) return "?";
    return "(" + s.join(", ") + (s.length === 1 ? "," : "") + ")";
  }
  function nodeTitle(k) {
    const n = N[k];
    let t = "[" + n.id + "] " + n.label;
    if (n.name && n.name !== n.label) t += " '" + n.name + "'";
    return t;
  }
  function groupPath(gi) {
    const parts = [];
    while (gi >= 0) { parts.unshift(G[gi].label); gi = G[gi].parent; }
    return parts.join(" > ");
  }

  // ---------------------------------------------------------------- page skeleton
  const bar = el("header", { id: "bar" });
  bar.appendChild(el("h1", null, D.title));
  const prevB = el("button", { id: "prev", title: "previous backward step (ArrowLeft)" }, "◀ Prev");
  const nextB = el("button", { id: "next", title: "next backward step (ArrowRight)" }, "Next ▶");
  const info = el("span", { id: "stepinfo" });
  bar.append(prevB, nextB, info);
  const tools = el("span", { id: "tools" });
  const zin = el("button", { id: "zoomin", title: "zoom in" }, "+");
  const zout = el("button", { id: "zoomout", title: "zoom out" }, "−");
  const zfit = el("button", { id: "fit", title: "fit the graph" }, "fit");
  const exp = el("button", { id: "expandall" }, "expand all");
  const col = el("button", { id: "collapseall" }, "collapse all");
  tools.append(zin, zout, zfit, exp, col);
  bar.appendChild(tools);
  document.body.appendChild(bar);
  const guard = el("div", { id: "guard" });
  const facts = N.length + " nodes, " + S.length + " backward steps, layout: " + D.layout;
  guard.appendChild(el("span", { class: "facts" }, facts));
  D.leftOut.forEach(function (m) { guard.appendChild(el("span", { class: "leftout" }, m)); });
  document.body.appendChild(guard);
  const main = el("main");
  const view = el("div", { id: "view" });
  const panel = el("aside", { id: "panel" });
  main.append(view, panel);
  document.body.appendChild(main);

  // ---------------------------------------------------------------- the graph
  // Python's layout (dot's, or the layered one) places the fully open graph. With groups
  // collapsed, each collapsed group becomes one box and the visible units are laid out again
  // here, in layers (as _explore.py's layered layout), so a closed module takes one box's room.
  const PAD = 24;
  const ox = N.map(function (n) { return n.x; }), oy = N.map(function (n) { return n.y; });
  const groupSize = G.map(function () { return 0; });
  N.forEach(function (n) {
    for (let g = n.group; g >= 0; g = G[g].parent) groupSize[g]++;
  });
  const depthOf = G.map(function (g) {
    let d = 0, p = g.parent;
    while (p >= 0) { d++; p = G[p].parent; }
    return d;
  });
  let box = [], W = 0, H = 0;
  const unitBox = G.map(function () { return null; });
  function closedLabel(gi) {
    return "▸ " + G[gi].label + "  (" + groupSize[gi] + (groupSize[gi] === 1 ? " node)" : " nodes)");
  }
  function rep(k) {  // what stands for node k now: -1 (itself) or its outermost closed group
    let r = -1;
    for (let g = N[k].group; g >= 0; g = G[g].parent) if (collapsed[g]) r = g;
    return r;
  }
  function groupHidden(gi) {
    for (let g = G[gi].parent; g >= 0; g = G[g].parent) if (collapsed[g]) return true;
    return false;
  }
  function relayout(reps) {
    if (!collapsed.some(Boolean)) {
      N.forEach(function (n, k) { n.x = ox[k]; n.y = oy[k]; });
      return;
    }
    const unitOf = new Int32Array(N.length), key = new Map(), units = [];
    N.forEach(function (n, k) {
      const r = reps[k], id = r >= 0 ? -1 - r : k;
      let u = key.get(id);
      if (u === undefined) {
        u = units.length;
        key.set(id, u);
        units.push(r >= 0 ? { g: r, w: Math.max(90, 7 * closedLabel(r).length + 16), h: 40,
          ord: Infinity } : { k: k, w: n.w, h: n.h, ord: Infinity });
      }
      // ops are numbered consumers first: a unit's rank in that order is its first op's
      if (n.kind === "op" || n.kind === "hidden") units[u].ord = Math.min(units[u].ord, k);
      unitOf[k] = u;
    });
    units.forEach(function (u, i) { if (u.ord === Infinity) u.ord = N.length + i; });
    const U = units.length, seen = new Set();
    const prod = units.map(function () { return []; }), cons = units.map(function () { return []; });
    E.forEach(function (e) {
      const a = unitOf[e[0]], b = unitOf[e[1]];
      if (a === b || seen.has(a * U + b)) return;
      seen.add(a * U + b);
      prod[b].push(a);
      cons[a].push(b);
    });
    const order = units.map(function (u, i) { return i; });
    order.sort(function (a, b) { return units[a].ord - units[b].ord; });
    const depth = new Int32Array(U);
    order.forEach(function (u) {
      prod[u].forEach(function (p) {
        if (units[p].ord > units[u].ord) depth[p] = Math.max(depth[p], depth[u] + 1);
      });
    });
    let top = 0;
    depth.forEach(function (d) { top = Math.max(top, d); });
    const layers = [];
    for (let i = 0; i <= top; i++) layers.push([]);
    order.forEach(function (u) { layers[top - depth[u]].push(u); });
    const pos = new Float64Array(U);
    layers.forEach(function (l) { l.forEach(function (u, i) { pos[u] = i; }); });
    function sweep(li) {
      const l = layers[li];
      l.forEach(function (u) {
        const near = cons[u].concat(prod[u]);
        if (near.length) pos[u] = near.reduce(function (s, j) { return s + pos[j]; }, 0) / near.length;
      });
      l.sort(function (a, b) { return pos[a] - pos[b]; });
      l.forEach(function (u, i) { pos[u] = i; });
    }
    for (let li = top; li >= 0; li--) sweep(li);
    for (let li = 0; li <= top; li++) sweep(li);
    let widest = 0;
    const widths = layers.map(function (l) {
      return l.reduce(function (s, u) { return s + units[u].w + 24; }, 0);
    });
    widths.forEach(function (w) { widest = Math.max(widest, w); });
    layers.forEach(function (l, li) {
      let x = (widest - widths[li]) / 2 + 12;
      l.forEach(function (u) {
        const un = units[u], cx = x + un.w / 2, cy = 30 + li * 70;
        if (un.g !== undefined) unitBox[un.g] = [cx - un.w / 2, cy - un.h / 2, cx + un.w / 2, cy + un.h / 2];
        else { N[un.k].x = cx; N[un.k].y = cy; }
        x += un.w + 24;
      });
    });
  }
  function geometry(reps) {  // group frames, then shift everything inside the margin
    box = G.map(function (g, gi) {
      return collapsed[gi] && unitBox[gi] ? unitBox[gi].slice() :
        [Infinity, Infinity, -Infinity, -Infinity];
    });
    N.forEach(function (n, k) {
      if (reps[k] >= 0 || n.group < 0) return;
      const b = box[n.group];
      b[0] = Math.min(b[0], n.x - n.w / 2); b[1] = Math.min(b[1], n.y - n.h / 2);
      b[2] = Math.max(b[2], n.x + n.w / 2); b[3] = Math.max(b[3], n.y + n.h / 2);
    });
    for (let gi = G.length - 1; gi >= 0; gi--) {  // children come after their parents
      const b = box[gi];
      if (b[0] === Infinity) continue;
      if (!collapsed[gi]) { b[0] -= 10; b[1] -= 20; b[2] += 10; b[3] += 8; }
      const p = G[gi].parent;
      if (p >= 0 && !collapsed[p]) {
        const q = box[p];
        q[0] = Math.min(q[0], b[0]); q[1] = Math.min(q[1], b[1]);
        q[2] = Math.max(q[2], b[2]); q[3] = Math.max(q[3], b[3]);
      }
    }
    let x0 = Infinity, y0 = Infinity;
    N.forEach(function (n, k) {
      if (reps[k] >= 0) return;
      x0 = Math.min(x0, n.x - n.w / 2); y0 = Math.min(y0, n.y - n.h / 2);
    });
    box.forEach(function (b) { x0 = Math.min(x0, b[0]); y0 = Math.min(y0, b[1]); });
    const dx = x0 === Infinity ? 0 : PAD - x0, dy = y0 === Infinity ? 0 : PAD - y0;
    W = 0; H = 0;
    N.forEach(function (n, k) {
      n.x += dx; n.y += dy;
      if (reps[k] < 0) { W = Math.max(W, n.x + n.w / 2 + PAD); H = Math.max(H, n.y + n.h / 2 + PAD); }
    });
    box.forEach(function (b) {
      if (b[0] === Infinity) return;
      b[0] += dx; b[1] += dy; b[2] += dx; b[3] += dy;
      W = Math.max(W, b[2] + PAD); H = Math.max(H, b[3] + PAD);
    });
  }

  function short(text, w) {
    const most = Math.max(4, Math.floor((w - 14) / 7));
    return text.length > most ? text.slice(0, most - 1) + "…" : text;
  }
  function bad(n) {
    return !!((n.value && n.value.bad) || (n.grad && n.grad.bad));
  }
  const parts = ['<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" ',
    'markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">',
    '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs><g id="groups">'];
  G.forEach(function (g, gi) {
    parts.push('<g class="group depth' + (depthOf[gi] % 4) + '" data-g="' + gi +
      '"><rect rx="8"/></g>');
  });
  parts.push('</g><g id="edges">');
  E.forEach(function () { parts.push('<path class="edge" marker-end="url(#arr)"/>'); });
  parts.push('</g><g id="glabels">');  // above the edges, so an edge never hides a title
  G.forEach(function (g, gi) { parts.push('<text class="glabel" data-g="' + gi + '"></text>'); });
  parts.push('</g><g id="nodes">');
  // SVG text is the slow part of drawing (a 10,000-node graph spends most of its first layout
  // shaping labels), so big graphs get their labels only as they scroll into view
  const LAZY = N.length + G.length > 2000;
  const labeled = new Uint8Array(N.length);
  function labelMarkup(n) {
    return '<text x="' + n.w / 2 + '" y="16">' + esc(short(n.label, n.w)) +
      '</text><text class="sub" x="' + n.w / 2 + '" y="31">' +
      esc(n.shape ? fmtShape(n.shape) : "") + "</text>";
  }
  N.forEach(function (n, k) {
    const cls = "node k-" + n.kind + (n.output ? " output" : "") + (bad(n) ? " bad" : "");
    parts.push('<g class="' + cls + '" data-id="' + esc(n.id) + '" data-k="' + k +
      '"><rect width="' + n.w + '" height="' + n.h + '" rx="' + (n.kind === "op" ? 14 : 3) +
      '"/>' + (LAZY ? "" : labelMarkup(n)) + "</g>");
  });
  if (!LAZY) labeled.fill(1);
  parts.push("</g>");
  // markup through the HTML parser, which puts <svg> in the SVG namespace by itself
  view.innerHTML = '<svg id="graph">' + parts.join("") + "</svg>";
  const svg = view.firstChild;
  const nodeEls = Array.from(svg.querySelectorAll("#nodes > .node"));
  const edgeEls = Array.from(svg.querySelectorAll("#edges > .edge"));
  const groupEls = Array.from(svg.querySelectorAll("#groups > .group"));
  const glabelEls = Array.from(svg.querySelectorAll("#glabels > .glabel"));
  const inEdges = N.map(function () { return []; });
  E.forEach(function (e, i) { inEdges[e[1]].push(i); });

  const nodeGone = N.map(function () { return false; }), nodeAt = N.map(function () { return ""; });
  const edgeGone = E.map(function () { return false; }), edgeAt = E.map(function () { return ""; });
  const glabel = G.map(function () { return ""; }), gshown = G.map(function () { return ""; });
  function setGroupLabel(gi, text) {
    if (gshown[gi] !== text) { glabelEls[gi].textContent = text; gshown[gi] = text; }
  }
  let byY = [];
  let labelPending = false;
  function labelVisible() {
    labelPending = false;
    if (!LAZY) return;
    const x0 = view.scrollLeft / scale, y0 = view.scrollTop / scale;
    const w = view.clientWidth / scale, h = view.clientHeight / scale;
    let lo = 0, hi = byY.length;
    while (lo < hi) {  // the first node at or below y0 - h
      const mid = (lo + hi) >> 1;
      if (N[byY[mid]].y < y0 - h) lo = mid + 1; else hi = mid;
    }
    for (let i = lo; i < byY.length && N[byY[i]].y <= y0 + 2 * h; i++) {
      const k = byY[i], n = N[k];
      if (labeled[k] || n.x + n.w / 2 < x0 - w || n.x - n.w / 2 > x0 + 2 * w) continue;
      nodeEls[k].insertAdjacentHTML("beforeend", labelMarkup(n));
      labeled[k] = 1;
    }
    glabel.forEach(function (text, gi) {
      if (!text || gshown[gi] === text) return;
      const b = box[gi];
      if (b[2] >= x0 - w && b[0] <= x0 + 2 * w && b[3] >= y0 - h && b[1] <= y0 + 2 * h) {
        setGroupLabel(gi, text);
      }
    });
  }
  view.addEventListener("scroll", function () {
    if (!labelPending) { labelPending = true; requestAnimationFrame(labelVisible); }
  });
  function refresh() {
    const reps = N.map(function (n, k) { return rep(k); });
    relayout(reps);
    geometry(reps);
    // touch only what changed: every attribute write dirties the next layout
    nodeEls.forEach(function (e, k) {
      const gone = reps[k] >= 0;
      if (gone !== nodeGone[k]) { e.classList.toggle("gone", gone); nodeGone[k] = gone; }
      if (!gone) {
        const n = N[k];
        const t = "translate(" + (n.x - n.w / 2) + "," + (n.y - n.h / 2) + ")";
        if (t !== nodeAt[k]) { e.setAttribute("transform", t); nodeAt[k] = t; }
      }
    });
    groupEls.forEach(function (e, gi) {
      const hidden = groupHidden(gi) || box[gi][0] === Infinity;
      e.classList.toggle("gone", hidden);
      e.classList.toggle("collapsed", collapsed[gi]);
      glabelEls[gi].classList.toggle("gone", hidden);
      glabel[gi] = "";
      if (hidden) return;
      const b = box[gi], r = e.firstChild, t = glabelEls[gi];
      r.setAttribute("x", b[0]); r.setAttribute("y", b[1]);
      r.setAttribute("width", b[2] - b[0]); r.setAttribute("height", b[3] - b[1]);
      t.setAttribute("x", b[0] + 8);
      t.setAttribute("y", collapsed[gi] ? (b[1] + b[3]) / 2 + 4 : b[1] + 14);
      glabel[gi] = collapsed[gi] ? closedLabel(gi) : "▾ " + G[gi].label;
    });
    groupEls.forEach(function (e, gi) {  // big graphs label the groups in view only
      if (!LAZY || !glabel[gi]) setGroupLabel(gi, LAZY ? "" : glabel[gi]);
    });
    E.forEach(function (e, i) {
      const a = reps[e[0]], b = reps[e[1]];
      const gone = a >= 0 && a === b;
      if (gone !== edgeGone[i]) { edgeEls[i].classList.toggle("gone", gone); edgeGone[i] = gone; }
      if (gone) return;
      let x1, y1, x2, y2;
      if (a >= 0) { x1 = (box[a][0] + box[a][2]) / 2; y1 = box[a][3]; }
      else { x1 = N[e[0]].x; y1 = N[e[0]].y + N[e[0]].h / 2; }
      if (b >= 0) { x2 = (box[b][0] + box[b][2]) / 2; y2 = box[b][1]; }
      else { x2 = N[e[1]].x; y2 = N[e[1]].y - N[e[1]].h / 2; }
      const dy = Math.max(20, Math.abs(y2 - y1) / 2);
      const d = "M" + x1 + "," + y1 + " C" + x1 + "," + (y1 + dy) + " " + x2 + "," + (y2 - dy) +
        " " + x2 + "," + y2;
      if (d !== edgeAt[i]) { edgeEls[i].setAttribute("d", d); edgeAt[i] = d; }
    });
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    byY = N.map(function (n, k) { return k; }).filter(function (k) { return reps[k] < 0; });
    byY.sort(function (a, b) { return N[a].y - N[b].y; });
    zoom(scale);
  }
  function reveal(k) {  // open every group around node k
    let changed = false;
    for (let g = N[k].group; g >= 0; g = G[g].parent) {
      if (collapsed[g]) { collapsed[g] = false; changed = true; }
    }
    if (changed) refresh();
  }
  function zoom(s) {
    scale = Math.max(0.05, Math.min(4, s));
    svg.setAttribute("width", W * scale);
    svg.setAttribute("height", H * scale);
    labelVisible();
  }
  function centerOn(k) {
    const r = rep(k), n = N[k];
    const x = r >= 0 ? (box[r][0] + box[r][2]) / 2 : n.x, y = r >= 0 ? (box[r][1] + box[r][3]) / 2 : n.y;
    view.scrollLeft = x * scale - view.clientWidth / 2;
    view.scrollTop = y * scale - view.clientHeight / 2;
    labelVisible();
  }

  // ---------------------------------------------------------------- arrays in the panel
  function arrayView(a, missing) {
    const d = el("div", { class: "array" });
    if (!a) { d.appendChild(el("span", { class: "none" }, missing || "not known")); return d; }
    const head = el("div", { class: "ahead" }, fmtShape(a.s) + " " + a.dt);
    if (a.bad) head.appendChild(el("span", { class: "badmark" }, " ⚠ " + a.bad));
    d.appendChild(head);
    if (a.v) {
      const cols = a.s.length ? a.s[a.s.length - 1] : 1;
      const t = el("table", { class: "vals" });
      for (let r = 0; r * cols < a.v.length || (r === 0 && !a.v.length); r++) {
        const tr = el("tr");
        for (let c = 0; c < cols && r * cols + c < a.v.length; c++) {
          const v = a.v[r * cols + c];
          const td = el("td", { "data-v": String(v) }, num(v));
          if (typeof v === "string") td.className = "bad";
          tr.appendChild(td);
        }
        t.appendChild(tr);
      }
      d.appendChild(t);
    } else if (a.hm) {
      d.appendChild(heat(a.hm));
    }
    if (a.st && !a.v) {
      d.appendChild(el("div", { class: "stats" },
        "min " + num(a.st[0]) + "   mean " + num(a.st[1]) + "   max " + num(a.st[2])));
    }
    if (a.dropped) d.appendChild(el("div", { class: "note" }, "values left out by the size guard"));
    return d;
  }
  function heat(h) {
    const c = el("canvas", { class: "heat", width: h.c, height: h.r });
    const ctx = c.getContext("2d");
    const img = ctx.createImageData(h.c, h.r);
    const bytes = atob(h.d);
    const lo = Number(h.lo), hi = Number(h.hi);
    const diverging = lo < 0 && hi > 0;
    for (let i = 0; i < bytes.length; i++) {
      const t = bytes.charCodeAt(i);
      let r, g, b;
      if (t === 255) { r = 230; g = 0; b = 200; }
      else if (diverging) {
        const v = lo + (t / 254) * (hi - lo);
        const f = v < 0 ? v / lo : v / hi;
        const w = Math.round(255 * (1 - f));
        if (v < 0) { r = w; g = w; b = 255; } else { r = 255; g = w; b = w; }
      } else {
        const f = t / 254;
        r = Math.round(255 - 225 * f); g = Math.round(255 - 170 * f); b = Math.round(255 - 90 * f);
      }
      img.data.set([r, g, b, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
    const wrap = el("div", { class: "heatwrap" });
    wrap.appendChild(c);
    wrap.appendChild(el("div", { class: "note" }, "heat map" + (diverging ?
      " (blue < 0 < red)" : " (light = min, dark = max)") + ", magenta: nan/inf"));
    return wrap;
  }
  function link(k) {
    const a = el("a", { href: "#", class: "nodelink", "data-k": k }, nodeTitle(k));
    return a;
  }
  function section(title) {
    const s = el("section");
    s.appendChild(el("h3", null, title));
    panel.appendChild(s);
    return s;
  }
  function row(parent, label, content) {
    const d = el("div", { class: "row" });
    d.appendChild(el("span", { class: "lbl" }, label));
    if (typeof content === "string") d.appendChild(el("span", { class: "txt" }, content));
    else d.appendChild(content);
    parent.appendChild(d);
    return d;
  }

  // ---------------------------------------------------------------- the panel
  function showNode(k, where) {
    const n = N[k];
    const s = where || section("Node " + nodeTitle(k));
    const kinds = { op: "op", param: "parameter", leaf: "leaf (requires grad)",
      const: "constant (no gradient)", hidden: "summary of hidden ops" };
    row(s, "kind", kinds[n.kind] + (n.output ? ", output" : ""));
    if (n.group >= 0) row(s, "module", groupPath(n.group));
    if (n.kind === "op") {
      row(s, "formula", n.def || "");
      row(s, "rule", n.rule || "(no rule)");
      if (n.args && n.args.length) row(s, "args", n.args.join(", "));
      const ins = el("div", { class: "inputs" });
      n.inputs.forEach(function (inp) {
        const line = el("div");
        line.appendChild(el("span", null, inp.name + " " + fmtShape(inp.shape) + " ← "));
        if (inp.src !== null) line.appendChild(link(inp.src));
        else line.appendChild(el("span", null, "constant"));
        ins.appendChild(line);
      });
      row(s, "inputs", ins);
    }
    if (n.shape) row(s, n.kind === "op" ? "output" : "shape", fmtShape(n.shape) + " " + (n.dt || ""));
    if (n.kind !== "hidden") {
      const v = row(s, "value", arrayView(n.value, "not kept by the graph (it keeps what " +
        "backward needs: pass the tensor in names= or call retain_grad() to see it)"));
      v.classList.add("value");
      if (n.kind !== "const") {
        const from = n.gradFrom === ".grad" ? "gradient (.grad)" : n.gradFrom === "replay" ?
          "gradient (replayed backward: what backward() sends here)" : "gradient";
        const g = row(s, from, n.grad ? arrayView(n.grad) : el("span", { class: "none" },
          n.kind === "op" ? "no gradient recorded" : "no .grad yet"));
        g.classList.add("grad");
      }
    }
    return s;
  }
  function showStep(k) {
    const st = S[k];
    const n = N[st.node];
    const s = section("Backward step " + (k + 1) + " of " + S.length + ": " + nodeTitle(st.node));
    s.classList.add("step");
    const up = el("div", { class: "upstream" });
    if (st.parts.length) {
      up.appendChild(el("div", { class: "explain" }, (st.leaf ? "this leaf" : "this tensor") +
        " is used " + st.parts.length + " times: its gradient is the sum of the parts"));
      st.parts.slice(0, MAX_PARTS).forEach(function (p, i) {
        const line = el("div", { class: "part" });
        line.appendChild(el("span", { class: "plus" }, i ? "+ " : "  "));
        if (p.from === null) line.appendChild(el("span", null, "the output's own seed"));
        else {
          line.appendChild(el("span", null, "from "));
          line.appendChild(link(p.from));
          line.appendChild(el("span", null, " (d/d" + p.input + ")"));
        }
        line.appendChild(arrayView(p.g || (p.at && S[p.at[0]].out[p.at[1]].g)));
        up.appendChild(line);
      });
      if (st.parts.length > MAX_PARTS) {
        up.appendChild(el("div", { class: "note" }, "+ " + (st.parts.length - MAX_PARTS) +
          " more parts (not listed)"));
      }
      up.appendChild(el("div", { class: "plus" }, "= total"));
    }
    up.appendChild(arrayView(st.in || n.grad));
    row(s, st.leaf ? "gradient total (what backward() adds to .grad)" :
      "upstream gradient (∂L/∂ this op's output)", up).classList.add("in");
    if (st.leaf) {
      if (n.gradFrom === ".grad") row(s, ".grad now", arrayView(n.grad)).classList.add("gradnow");
    } else {
      row(s, "local rule", n.rule || "(no rule)").classList.add("rule");
      st.out.forEach(function (o) {
        const d = el("div", { class: "outgoing" });
        const head = el("div");
        head.appendChild(el("span", { class: "dname" }, "d/d" + o.input + " → "));
        if (o.to !== null) head.appendChild(link(o.to));
        else head.appendChild(el("span", null, o.note || "nothing"));
        if (o.summed) head.appendChild(el("span", { class: "note" },
          "  (summed from " + fmtShape(o.summed) + ": broadcasting undone)"));
        d.appendChild(head);
        if (o.same) d.appendChild(arrayView(N[o.to].grad));
        else if (o.g) d.appendChild(arrayView(o.g));
        else if (o.to !== null) d.appendChild(el("span", { class: "none" }, "no gradient"));
        s.appendChild(d);
      });
    }
    if (st.article) {
      const a = el("div", { class: "article" });
      a.appendChild(el("div", { class: "src" }, st.article.source));
      st.article.lines.forEach(function (l) { a.appendChild(el("code", null, l)); });
      row(s, "article", a).classList.add("articlerow");
    }
    showNode(st.node, section("Node " + nodeTitle(st.node)));
  }
  function intro() {
    const s = section("Backward pass");
    if (S.length) {
      s.appendChild(el("p", null, "Press Next ▶ or ArrowRight to run the backward pass one " +
        "node at a time, in the engine's order (" + S.length + " steps). Click any node for " +
        "its op, formula, shapes, value and gradient."));
    } else {
      s.appendChild(el("p", null, "No backward steps to show. Click any node for its op, " +
        "formula, shapes, value and gradient."));
    }
    if (D.seeds.length && D.seeds[0]) row(s, "seed ∂L/∂L", arrayView(D.seeds[0]));
  }
  // marks change incrementally: a step must not cost a pass over a 10,000-node graph
  let shownStep = -1, marked = [];
  function render() {
    panel.textContent = "";
    marked.forEach(function (m) { m[0].classList.remove(m[1]); });
    marked = [];
    function mark(e, cls) { e.classList.add(cls); marked.push([e, cls]); }
    if (step >= 0) {
      const k = S[step].node, r = rep(k);
      mark(nodeEls[k], "current");
      if (r >= 0) mark(groupEls[r], "current");
      inEdges[k].forEach(function (i) { mark(edgeEls[i], "flow"); });
      showStep(step);
      document.body.dataset.current = N[k].id;
    } else {
      delete document.body.dataset.current;
      intro();
    }
    if (selected >= 0 && (step < 0 || S[step].node !== selected)) {
      mark(nodeEls[selected], "selected");
      showNode(selected);
    }
    for (let j = Math.max(Math.min(shownStep, step), 0); j < Math.max(shownStep, step); j++) {
      nodeEls[S[j].node].classList.toggle("done", j < step);
    }
    shownStep = step;
    document.body.dataset.step = String(step);
    info.textContent = step < 0 ? "forward (" + S.length + " backward steps)" :
      "step " + (step + 1) + " / " + S.length;
    prevB.disabled = step < 0;
    nextB.disabled = step >= S.length - 1;
  }
  function go(k) {
    step = Math.max(-1, Math.min(S.length - 1, k));
    selected = -1;
    if (step >= 0) {
      // small graphs open the groups around the step; in big ones a relayout per step would
      // be slow, so the closed group holding the node is highlighted instead
      if (!LAZY) reveal(S[step].node);
      centerOn(S[step].node);
    }
    render();
  }
  function select(k) {
    selected = k;
    reveal(k);
    render();
  }

  prevB.addEventListener("click", function () { go(step - 1); });
  nextB.addEventListener("click", function () { go(step + 1); });
  zin.addEventListener("click", function () { zoom(scale * 1.25); });
  zout.addEventListener("click", function () { zoom(scale / 1.25); });
  zfit.addEventListener("click", function () {
    zoom(Math.min(view.clientWidth / W, view.clientHeight / H));
  });
  exp.addEventListener("click", function () { collapsed.fill(false); refresh(); });
  col.addEventListener("click", function () { collapsed.fill(true); refresh(); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowRight") { go(step + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { go(step - 1); ev.preventDefault(); }
    else if (ev.key === "Home") { go(-1); ev.preventDefault(); }
    else if (ev.key === "End") { go(S.length - 1); ev.preventDefault(); }
  });
  svg.addEventListener("click", function (ev) {
    const g = ev.target.closest(".group, .glabel");
    const n = ev.target.closest(".node");
    if (n) { select(Number(n.dataset.k)); return; }
    if (g && (g.classList.contains("glabel") || g.classList.contains("collapsed"))) {
      const gi = Number(g.dataset.g);
      collapsed[gi] = !collapsed[gi];
      refresh();
    }
  });
  panel.addEventListener("click", function (ev) {
    const a = ev.target.closest(".nodelink");
    if (!a) return;
    ev.preventDefault();
    const k = Number(a.dataset.k);
    select(k);
    centerOn(k);
  });

  refresh();
  const fit = Math.min(1.5, view.clientWidth / W, view.clientHeight / H);
  zoom(fit < 0.4 ? Math.min(1, view.clientWidth / W) : fit);
  if (fit < 0.4) view.scrollTop = view.scrollHeight;  // a big graph: start at its output
  labelVisible();
  render();
  document.body.dataset.nodes = String(N.length);
  document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
  document.body.dataset.ready = "1";
  window.mtExplorer = { data: D, go: go, select: select, step: function () { return step; } };
})();
