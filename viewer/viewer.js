// hiscmcl's offline slide viewer: OpenSeadragon shows the DeepZoom pyramid (tiles_files/), a
// canvas over it draws every spot at its true size, coloured by the chosen layer. Data come from
// <script> files (data/spots.js, data/genes/<n>.js): a fetch of JSON fails from file://. Every
// string from the data reaches the page through textContent, never as HTML.
(function () {
  'use strict';
  var D = window.HISCMCL_VIEWER;
  var $ = function (id) { return document.getElementById(id); };
  if (!D) {
    $('status').textContent = 'data/spots.js is missing or damaged: this folder is not a complete viewer.';
    return;
  }
  var N = D.ids.length;
  var X = Float64Array.from(D.x), Y = Float64Array.from(D.y);

  // ---------------------------------------------------------------- values
  function decode(q) {
    var bin = atob(q.q), n = bin.length >> 1, out = new Float32Array(n);
    for (var i = 0; i < n; ++i) {
      var code = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
      out[i] = code === 65535 ? NaN : q.lo + code * q.step;
    }
    return out;
  }
  var geneCache = {}, genePending = {};
  window.hiscmclGene = function (n, payload) {
    var g = { pred: decode(payload.pred) };
    if (payload.sd) g.sd = decode(payload.sd);
    if (payload.measured) g.measured = decode(payload.measured);
    geneCache[n] = g;
    (genePending[n] || []).forEach(function (cb) { cb(null, g); });
    delete genePending[n];
  };
  function loadGene(n, cb) {
    if (geneCache[n]) return cb(null, geneCache[n]);
    if (genePending[n]) return genePending[n].push(cb);
    genePending[n] = [cb];
    var s = document.createElement('script');
    s.src = 'data/genes/' + n + '.js';
    s.onerror = function () {
      (genePending[n] || []).forEach(function (f) { f(new Error('cannot load data/genes/' + n + '.js')); });
      delete genePending[n];
    };
    document.head.appendChild(s);
  }
  var scores = (D.scores || []).map(function (s) { return { name: s.name, values: decode(s.values) }; });
  var regions = D.regions;

  // ---------------------------------------------------------------- colour maps
  var STOPS = {
    viridis: ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'],
    magma: ['#000004', '#180f3d', '#440f76', '#721f81', '#9e2f7f', '#cd4071', '#f1605d', '#fd9668', '#feca8d', '#fcfdbf'],
    coolwarm: ['#3b4cc0', '#6788ee', '#9abbff', '#c9d7f0', '#edd1c2', '#f7a889', '#e26952', '#b40426']
  };
  function hexRgb(h) { return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]; }
  function makeLut(name) {
    var stops = STOPS[name].map(hexRgb), lut = [];
    for (var i = 0; i < 256; ++i) {
      var t = i / 255 * (stops.length - 1), k = Math.min(stops.length - 2, Math.floor(t)), f = t - k;
      var c = [0, 1, 2].map(function (j) { return Math.round(stops[k][j] + f * (stops[k + 1][j] - stops[k][j])); });
      lut.push(c);
    }
    return lut;
  }

  // ---------------------------------------------------------------- state
  var state = {
    gene: 0, layer: 'pred', cmap: 'viridis', lut: makeLut('viridis'),
    vmin: 0, vmax: 1, opacity: 0.85, spotScale: 1, showSpots: true, values: null
  };
  function layerLabel() {
    var gene = D.genes[state.gene];
    if (state.layer === 'pred') return gene + ' \u2014 predicted';
    if (state.layer === 'sd') return gene + ' \u2014 predicted sd';
    if (state.layer === 'measured') return gene + ' \u2014 measured';
    if (state.layer === 'regions') return 'tissue regions';
    return scores[+state.layer.slice(6)].name + ' \u2014 marker-set score';
  }
  function isGeneLayer(l) { return l === 'pred' || l === 'sd' || l === 'measured'; }

  function percentile(sorted, p) {
    if (!sorted.length) return NaN;
    var t = p * (sorted.length - 1), k = Math.floor(t);
    return k + 1 < sorted.length ? sorted[k] + (t - k) * (sorted[k + 1] - sorted[k]) : sorted[k];
  }
  function autoRange() {
    var v = state.values;
    if (!v) return;
    var finite = Array.prototype.filter.call(v, function (a) { return isFinite(a); }).sort(function (a, b) { return a - b; });
    var lo = percentile(finite, 0.02), hi = percentile(finite, 0.98);
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi <= lo) { hi = lo + (Math.abs(lo) || 1) * 1e-6; }
    state.vmin = lo; state.vmax = hi;
    $('vmin').value = fmt(lo); $('vmax').value = fmt(hi);
  }
  function fmt(v) {
    if (!isFinite(v)) return 'NA';
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(+v.toPrecision(5));
  }

  // Sets the layer's values (loading the gene when needed), then redraws.
  function refresh(keepRange) {
    var layer = state.layer;
    if (layer === 'regions') {
      state.values = null;
      updateLegend(); scheduleDraw();
      return;
    }
    if (!isGeneLayer(layer)) {
      state.values = scores[+layer.slice(6)].values;
      if (!keepRange) autoRange();
      updateLegend(); scheduleDraw();
      return;
    }
    var n = state.gene;
    $('status').textContent = 'loading ' + D.genes[n] + '\u2026';
    loadGene(n, function (err, g) {
      if (err) { $('status').textContent = err.message; return; }
      if (n !== state.gene || layer !== state.layer) return;  // another choice came since
      state.values = g[layer] || g.pred;
      if (!keepRange) autoRange();
      $('status').textContent = statusText();
      updateLegend(); scheduleDraw();
      window.hiscmclViewer.shown = { gene: D.genes[n], layer: layer };
    });
  }
  function statusText() {
    return N + ' spots \u00b7 ' + D.genes.length + ' genes \u00b7 spot diameter ' + fmt(D.diameter) + ' px';
  }

  // ---------------------------------------------------------------- controls
  $('title').textContent = D.section ? String(D.section) : 'hiscmcl viewer';
  document.title = (D.section ? D.section + ' \u2014 ' : '') + 'hiscmcl viewer';
  $('subtitle').textContent = 'predicted expression' + (D.hasMeasured ? ' beside the measured' : '');
  $('status').textContent = statusText();
  var search = $('gene-search'), list = $('gene-list');
  search.placeholder = 'search ' + D.genes.length + ' genes';
  var lowerGenes = D.genes.map(function (g) { return String(g).toLowerCase(); });
  function showMatches() {
    var q = search.value.trim().toLowerCase();
    while (list.firstChild) list.removeChild(list.firstChild);
    if (!q) return;
    var prefix = [], inner = [];
    for (var i = 0; i < lowerGenes.length && prefix.length < 100; ++i) {
      var k = lowerGenes[i].indexOf(q);
      if (k === 0) prefix.push(i); else if (k > 0 && inner.length < 100) inner.push(i);
    }
    prefix.concat(inner).slice(0, 100).forEach(function (i, j) {
      var li = document.createElement('li');
      li.textContent = D.genes[i];
      li.dataset.index = i;
      li.setAttribute('role', 'option');
      if (j === 0) li.classList.add('active');
      if (i === state.gene) li.classList.add('current');
      list.appendChild(li);
    });
  }
  function chooseGene(i) {
    state.gene = i;
    search.value = D.genes[i];
    while (list.firstChild) list.removeChild(list.firstChild);
    if (!isGeneLayer(state.layer)) { state.layer = 'pred'; $('layer').value = 'pred'; }
    refresh(false);
  }
  search.addEventListener('input', showMatches);
  search.addEventListener('focus', function () { search.select(); });
  search.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') {
      var first = list.querySelector('li.active') || list.firstChild;
      if (first) chooseGene(+first.dataset.index);
    } else if (e.key === 'Escape') {
      search.value = D.genes[state.gene];
      while (list.firstChild) list.removeChild(list.firstChild);
    }
  });
  list.addEventListener('click', function (e) {
    var li = e.target.closest('li');
    if (li) chooseGene(+li.dataset.index);
  });

  var layerSel = $('layer');
  function option(value, text) {
    var o = document.createElement('option');
    o.value = value; o.textContent = text;
    layerSel.appendChild(o);
  }
  option('pred', 'predicted');
  if (D.hasSd) option('sd', 'predicted sd (uncertainty)');
  if (D.hasMeasured) option('measured', 'measured');
  if (regions) option('regions', 'tissue regions');
  scores.forEach(function (s, i) { option('score:' + i, 'score: ' + s.name); });
  layerSel.addEventListener('change', function () { state.layer = layerSel.value; refresh(false); });

  $('vmin').addEventListener('change', function () { var v = parseFloat(this.value); if (isFinite(v)) { state.vmin = v; updateLegend(); scheduleDraw(); } });
  $('vmax').addEventListener('change', function () { var v = parseFloat(this.value); if (isFinite(v)) { state.vmax = v; updateLegend(); scheduleDraw(); } });
  $('auto-range').addEventListener('click', function () { autoRange(); updateLegend(); scheduleDraw(); });
  $('cmap').addEventListener('change', function () { state.cmap = this.value; state.lut = makeLut(this.value); updateLegend(); scheduleDraw(); });
  function showOpacity() { $('opacity-text').textContent = Math.round(state.opacity * 100) + '%'; }
  function showSpotSize() { $('spot-size-text').textContent = state.spotScale.toFixed(2) + '\u00d7 (' + fmt(D.diameter * state.spotScale) + ' px)'; }
  $('opacity').addEventListener('input', function () { state.opacity = +this.value; showOpacity(); scheduleDraw(); });
  $('spot-size').addEventListener('input', function () { state.spotScale = +this.value; showSpotSize(); scheduleDraw(); });
  $('spots-toggle').addEventListener('change', function () { state.showSpots = this.checked; scheduleDraw(); });
  showOpacity(); showSpotSize();

  function updateLegend() {
    $('legend-title').textContent = layerLabel();
    var cats = $('legend-cats');
    while (cats.firstChild) cats.removeChild(cats.firstChild);
    var continuous = state.layer !== 'regions';
    $('legend-bar').style.display = continuous ? '' : 'none';
    $('legend-labels').style.display = continuous ? '' : 'none';
    $('range-row').style.visibility = continuous ? '' : 'hidden';
    if (continuous) {
      var ctx = $('legend-bar').getContext('2d');
      for (var i = 0; i < 256; ++i) {
        var c = state.lut[i];
        ctx.fillStyle = 'rgb(' + c[0] + ',' + c[1] + ',' + c[2] + ')';
        ctx.fillRect(i, 0, 1, 12);
      }
      $('legend-min').textContent = '\u2264 ' + fmt(state.vmin);
      $('legend-max').textContent = '\u2265 ' + fmt(state.vmax);
    } else {
      regions.names.forEach(function (name, r) {
        var row = document.createElement('div'), sw = document.createElement('span'), t = document.createElement('span');
        sw.className = 'swatch'; sw.style.background = regions.colours[r];
        t.textContent = name;
        row.appendChild(sw); row.appendChild(t); cats.appendChild(row);
      });
    }
  }

  // ---------------------------------------------------------------- the slide
  var I = D.image;
  var viewer = OpenSeadragon({
    element: $('osd'),
    prefixUrl: 'openseadragon/images/',
    drawer: 'canvas',           // WebGL cannot take textures from file:// pages
    crossOriginPolicy: false,
    showNavigator: true,
    navigatorPosition: 'BOTTOM_RIGHT',
    showRotationControl: false,
    maxZoomPixelRatio: 4,
    visibilityRatio: 0.5,
    gestureSettingsMouse: { clickToZoom: false },
    // Inline: fetching tiles.dzi (XHR) fails from file://.
    tileSources: {
      width: I.width, height: I.height, tileSize: I.tileSize, tileOverlap: I.overlap,
      minLevel: 0, maxLevel: I.maxLevel,
      getTileUrl: function (level, x, y) { return I.tiles + level + '/' + x + '_' + y + '.' + I.format; }
    }
  });
  $('he-toggle').addEventListener('change', function () {
    var item = viewer.world.getItemAt(0);
    if (item) item.setOpacity(this.checked ? 1 : 0);
  });

  // The spots: a canvas over OpenSeadragon's, below its controls; mouse events pass through.
  var overlay = document.createElement('canvas');
  overlay.style.cssText = 'position:absolute;left:0;top:0;pointer-events:none;';
  viewer.canvas.appendChild(overlay);
  function transform() {
    var item = viewer.world.getItemAt(0);
    if (!item) return null;
    var vp = viewer.viewport;
    var a = vp.pixelFromPoint(item.imageToViewportCoordinates(0, 0), true);
    var b = vp.pixelFromPoint(item.imageToViewportCoordinates(I.width, 0), true);
    return { x0: a.x, y0: a.y, s: (b.x - a.x) / I.width };
  }
  var drawQueued = false;
  function scheduleDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(function () { drawQueued = false; draw(); });
  }
  function colourIndex(v) {
    if (!isFinite(v)) return -1;
    var t = (v - state.vmin) / (state.vmax - state.vmin);
    return Math.max(0, Math.min(255, Math.round((isFinite(t) ? t : 0) * 255)));
  }
  function draw() {
    var w = viewer.canvas.clientWidth, h = viewer.canvas.clientHeight, dpr = window.devicePixelRatio || 1;
    if (overlay.width !== Math.round(w * dpr) || overlay.height !== Math.round(h * dpr)) {
      overlay.width = Math.round(w * dpr); overlay.height = Math.round(h * dpr);
      overlay.style.width = w + 'px'; overlay.style.height = h + 'px';
    }
    var ctx = overlay.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    var T = transform();
    if (!T || !state.showSpots) return;
    var isRegions = state.layer === 'regions';
    if (!isRegions && !state.values) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    var r = Math.max(0.75, D.diameter * state.spotScale * T.s / 2);
    var nbins = isRegions ? regions.names.length : 256;
    var bins = [], missing = [];
    for (var b = 0; b < nbins; ++b) bins.push([]);
    for (var i = 0; i < N; ++i) {
      var sx = T.x0 + X[i] * T.s, sy = T.y0 + Y[i] * T.s;
      if (sx < -r || sy < -r || sx > w + r || sy > h + r) continue;
      var k = isRegions ? regions.codes[i] : colourIndex(state.values[i]);
      (k < 0 ? missing : bins[k]).push(sx, sy);
    }
    ctx.globalAlpha = state.opacity;
    for (b = 0; b < nbins; ++b) {
      var pts = bins[b];
      if (!pts.length) continue;
      if (isRegions) ctx.fillStyle = regions.colours[b];
      else ctx.fillStyle = 'rgb(' + state.lut[b][0] + ',' + state.lut[b][1] + ',' + state.lut[b][2] + ')';
      ctx.beginPath();
      for (var j = 0; j < pts.length; j += 2) { ctx.moveTo(pts[j] + r, pts[j + 1]); ctx.arc(pts[j], pts[j + 1], r, 0, 2 * Math.PI); }
      ctx.fill();
    }
    if (missing.length) {  // no value: a hollow grey ring
      ctx.strokeStyle = '#888'; ctx.lineWidth = 1;
      ctx.beginPath();
      for (j = 0; j < missing.length; j += 2) { ctx.moveTo(missing[j] + r, missing[j + 1]); ctx.arc(missing[j], missing[j + 1], r, 0, 2 * Math.PI); }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }
  ['open', 'update-viewport', 'animation', 'resize', 'after-resize', 'animation-finish'].forEach(function (e) { viewer.addHandler(e, scheduleDraw); });
  // While the view is the home view (the whole slide, fitted), it stays so when the window changes
  // size. A goHome() in 'after-resize' is not enough: OpenSeadragon's resize (doViewerResize)
  // raises 'resize' and 'after-resize' from viewport.resize(), and only then puts back the old
  // centre and zooms by the ratio of the container diagonals, which undoes the goHome in the same
  // frame; a slide fitted by its height then comes out taller than the wider window and loses its
  // top and bottom. So 'resize' notes whether the view was the fitted one (the zoom compared with
  // the home zoom of the container as it was), and the fit is made again at the 'zoom' that ends
  // OpenSeadragon's resize, before the frame is drawn ('viewport-change' in case no zoom comes).
  // A view the user zoomed or panned keeps OpenSeadragon's own resize.
  var homeZoom = null, refit = false, wasFitted = false;
  function fitted() {
    var vp = viewer.viewport, z = vp.getZoom(false);
    if (!homeZoom || !viewer.world.getItemAt(0)) return false;
    var c = vp.getCenter(false), h = vp.getHomeBounds().getCenter();
    return Math.abs(z / homeZoom - 1) < 1e-4 && c.distanceTo(h) * z < 1e-4;
  }
  function fitAgain() {
    if (!refit) return;
    refit = false;
    viewer.viewport.goHome(true);
    homeZoom = viewer.viewport.getHomeZoom();
    scheduleDraw();
  }
  viewer.addHandler('resize', function () { wasFitted = fitted(); });
  viewer.addHandler('after-resize', function () {
    homeZoom = viewer.viewport.getHomeZoom();  // of the new container size
    refit = wasFitted;
  });
  viewer.addHandler('zoom', fitAgain);
  viewer.addHandler('viewport-change', fitAgain);
  window.addEventListener('resize', scheduleDraw);

  // ---------------------------------------------------------------- hover
  var cell = Math.max(1, D.diameter), grid = new Map();
  for (var i = 0; i < N; ++i) {
    var key = Math.floor(X[i] / cell) + ',' + Math.floor(Y[i] / cell);
    if (!grid.has(key)) grid.set(key, []);
    grid.get(key).push(i);
  }
  function spotAt(ix, iy) {
    var rad = D.diameter * state.spotScale / 2, span = Math.ceil(rad / cell) + 1;
    var cx = Math.floor(ix / cell), cy = Math.floor(iy / cell), best = -1, bestD = rad * rad;
    for (var dx = -span; dx <= span; ++dx)
      for (var dy = -span; dy <= span; ++dy) {
        var c = grid.get((cx + dx) + ',' + (cy + dy));
        if (!c) continue;
        for (var k = 0; k < c.length; ++k) {
          var d2 = (X[c[k]] - ix) * (X[c[k]] - ix) + (Y[c[k]] - iy) * (Y[c[k]] - iy);
          if (d2 <= bestD) { bestD = d2; best = c[k]; }
        }
      }
    return best;
  }
  var tip = $('tooltip');
  function tipLine(k, v) {
    var row = document.createElement('div'), a = document.createElement('span'), b = document.createElement('span');
    a.className = 'k'; a.textContent = k + ': ';
    b.textContent = v;
    row.appendChild(a); row.appendChild(b); tip.appendChild(row);
  }
  function showTip(i, clientX, clientY) {
    while (tip.firstChild) tip.removeChild(tip.firstChild);
    tipLine('spot', D.ids[i]);
    tipLine('position', 'x ' + fmt(X[i]) + ', y ' + fmt(Y[i]) + ' px');
    var g = geneCache[state.gene], gene = D.genes[state.gene];
    if (g) {
      tipLine(gene + ' predicted', fmt(g.pred[i]));
      if (g.sd) tipLine(gene + ' sd', fmt(g.sd[i]));
      if (g.measured) tipLine(gene + ' measured', fmt(g.measured[i]));
    }
    if (regions) tipLine('region', regions.codes[i] >= 0 ? regions.names[regions.codes[i]] : 'none');
    if (state.layer.indexOf('score:') === 0) {
      var s = scores[+state.layer.slice(6)];
      tipLine(s.name, fmt(s.values[i]));
    }
    tip.hidden = false;
    var tw = tip.offsetWidth, th = tip.offsetHeight;
    var left = clientX + 14, top = clientY + 14;
    if (left + tw > window.innerWidth - 4) left = clientX - tw - 14;
    if (top + th > window.innerHeight - 4) top = clientY - th - 14;
    tip.style.left = Math.max(4, left) + 'px'; tip.style.top = Math.max(4, top) + 'px';
  }
  new OpenSeadragon.MouseTracker({
    element: viewer.canvas,
    moveHandler: function (e) {
      var item = viewer.world.getItemAt(0);
      if (!item || !state.showSpots) { tip.hidden = true; return; }
      var p = item.viewportToImageCoordinates(viewer.viewport.pointFromPixel(e.position, true));
      var i = spotAt(p.x, p.y);
      if (i < 0) { tip.hidden = true; return; }
      var rect = viewer.canvas.getBoundingClientRect();
      showTip(i, rect.left + e.position.x, rect.top + e.position.y);
    },
    leaveHandler: function () { tip.hidden = true; }
  });
  window.addEventListener('resize', function () { tip.hidden = true; });  // its spot has moved

  // ---------------------------------------------------------------- start
  // For scripted checks (tests/viewer): where a spot is on the page, and the colour map.
  window.hiscmclViewer = {
    viewer: viewer, state: state, overlay: overlay, shown: null,
    spotClientXY: function (i) {
      var T = transform(), rect = viewer.canvas.getBoundingClientRect();
      return T ? { x: rect.left + T.x0 + X[i] * T.s, y: rect.top + T.y0 + Y[i] * T.s, r: D.diameter * state.spotScale * T.s / 2 } : null;
    },
    colourIndex: colourIndex
  };
  // The gene with the widest 2-98% range is not known before loading; start on the first gene,
  // or the one named in the address (#gene=NAME).
  var wanted = decodeURIComponent((location.hash.match(/gene=([^&]*)/) || [])[1] || '');
  var start = wanted ? D.genes.indexOf(wanted) : -1;
  updateLegend();
  viewer.addOnceHandler('open', function () {
    viewer.viewport.goHome(true);
    homeZoom = viewer.viewport.getHomeZoom();
    chooseGene(start >= 0 ? start : 0);
  });
  viewer.addHandler('open-failed', function (e) { $('status').textContent = 'the slide image could not be opened: ' + (e.message || ''); });
})();
