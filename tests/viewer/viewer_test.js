// Browser test of the slide viewer (issue 32): Debian's chromium, headless, through puppeteer-core,
// on the viewer of a small prediction opened from file://.
//   node tests/viewer/viewer_test.js HISCMCL_BIN WORK_DIR [SCREENSHOT_DIR]
// Trains a tiny model on a synthetic set, predicts one section, then: picks a gene in the picker,
// samples the spot canvas at spots (a higher value takes a colour further up the colour map),
// hovers a spot (the tooltip shows the value stored in prediction.h5ad, read with h5py), checks
// that no request leaves file://, resizes the window (the fitted slide stays whole and centred, the
// spots on the tissue; a zoomed view stays zoomed) and takes screenshots at 1280 and 1920 px wide.
// Exits 77 (CTest SKIP_RETURN_CODE) with a message when chromium, node_modules or h5py is absent.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const SKIP = 77;
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';  // Debian's, with h5py
const repo = path.resolve(__dirname, '..', '..');
const [bin, work, shots] = process.argv.slice(2);
function skip(why) { console.log('SKIPPED: ' + why); process.exit(SKIP); }
if (!bin || !work) { console.error('usage: viewer_test.js HISCMCL_BIN WORK_DIR [SCREENSHOT_DIR]'); process.exit(2); }
const chromium = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
if (!chromium) skip('chromium is absent (apt-get install chromium)');
let puppeteer;
try { puppeteer = require(require.resolve('puppeteer-core', { paths: [repo] })); } catch (e) { skip('node_modules/puppeteer-core is absent (run `npm ci` in the repository root)'); }
try { execFileSync(PY, ['-c', 'import h5py'], { stdio: 'ignore' }); } catch (e) { skip('python3-h5py is absent'); }

let failures = 0;
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures++;
}
function run(args) { return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }); }

// ---------------------------------------------------------------- fixture: a small prediction
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const syn = path.join(work, 'syn');
run(['synth', '--quiet', '--out', syn, '--sections', '3', '--grid', '10', '--genes', '30', '--um-per-px', '2', '--seed', '5']);
let config = fs.readFileSync(path.join(repo, 'configs', 'default.toml'), 'utf8');
for (const [k, v] of [['epochs', '2'], ['ensemble', '1']]) config = config.replace(new RegExp('^' + k + ' = .*$', 'm'), k + ' = ' + v);
fs.writeFileSync(path.join(work, 'config.toml'), config);
run(['prepare', '--quiet', '--manifest', path.join(syn, 'manifest.toml'), '--out', path.join(work, 'store')]);
run(['train', '--quiet', '--data', path.join(work, 'store'), '--config', path.join(work, 'config.toml'), '--out', path.join(work, 'model')]);
const out = path.join(work, 'pred');
run(['predict', '--quiet', '--model', path.join(work, 'model'), '--image', path.join(syn, 'S1.jpg'),
     '--spots', path.join(syn, 'S1_spots.tsv'), '--out', out]);
const index = path.join(out, 'viewer', 'index.html');
check(fs.existsSync(index), 'predict wrote viewer/index.html');
check(fs.existsSync(path.join(out, 'spots.geojson')), 'predict wrote spots.geojson');
if (!fs.existsSync(index)) process.exit(1);

// The values stored in the h5ad, for one gene: the one whose prediction varies most.
const stored = JSON.parse(execFileSync(PY, ['-c', `
import h5py, json, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
X = f['X'][()]
genes = [g.decode() if isinstance(g, bytes) else g for g in f['var/_index'][()]]
ids = [s.decode() if isinstance(s, bytes) else s for s in f['obs/_index'][()]]
g = int(np.argmax(X.std(axis=0)))
sd = f['layers/sd'][:, g].tolist() if 'layers/sd' in f else None
print(json.dumps({'gene': genes[g], 'values': X[:, g].tolist(), 'sd': sd, 'ids': ids,
                  'xy': f['obsm/spatial'][()].tolist()}))
`, path.join(out, 'prediction.h5ad')], { encoding: 'utf8' }));

// ---------------------------------------------------------------- the browser
(async () => {
  const browser = await puppeteer.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files=false']
  });
  try {
    const page = await browser.newPage();
    const requests = [], errors = [];
    await page.setRequestInterception(true);
    page.on('request', (req) => {
      requests.push(req.url());
      if (req.url().startsWith('file://') || req.url().startsWith('data:')) req.continue(); else req.abort();
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto('file://' + index, { waitUntil: 'load' });
    await page.waitForFunction(() => window.hiscmclViewer && window.hiscmclViewer.shown, { timeout: 20000 });

    // Pick the gene by typing part of its name and clicking it in the list.
    const gene = stored.gene;
    await page.click('#gene-search', { clickCount: 3 });
    await page.type('#gene-search', gene.slice(0, Math.max(2, gene.length - 1)));
    await page.waitForSelector('#gene-list li');
    const items = await page.$$eval('#gene-list li', (lis) => lis.map((li) => li.textContent));
    check(items.includes(gene), 'the picker lists ' + gene + ' (' + items.length + ' matches)');
    const li = (await page.$$('#gene-list li'))[items.indexOf(gene)];
    await li.click();
    await page.waitForFunction((g) => window.hiscmclViewer.shown && window.hiscmclViewer.shown.gene === g, { timeout: 10000 }, gene);
    await page.evaluate(() => { const s = document.getElementById('spot-size'); s.value = '0.5'; s.dispatchEvent(new Event('input')); });
    await new Promise((r) => setTimeout(r, 800));  // tiles and a frame

    // Colours at the spots: the colour map's index of the sampled colour rises with the value.
    const sampled = await page.evaluate((n) => {
      const V = window.hiscmclViewer, ctx = V.overlay.getContext('2d'), dpr = window.devicePixelRatio || 1;
      const rect = V.viewer.canvas.getBoundingClientRect(), lut = V.state.lut, out = [];
      for (let i = 0; i < n; ++i) {
        const p = V.spotClientXY(i);
        const x = Math.round((p.x - rect.left) * dpr), y = Math.round((p.y - rect.top) * dpr);
        if (x < 0 || y < 0 || x >= V.overlay.width || y >= V.overlay.height) continue;
        const d = ctx.getImageData(x, y, 1, 1).data;
        let best = -1, bestD = Infinity;
        lut.forEach((c, k) => { const e = (c[0] - d[0]) ** 2 + (c[1] - d[1]) ** 2 + (c[2] - d[2]) ** 2; if (e < bestD) { bestD = e; best = k; } });
        out.push({ i, k: best, err: bestD, alpha: d[3] });
      }
      return { out, vmin: V.state.vmin, vmax: V.state.vmax };
    }, stored.values.length);
    check(sampled.out.length >= 0.9 * stored.values.length, `sampled ${sampled.out.length} of ${stored.values.length} spots on screen`);
    check(sampled.out.every((s) => s.alpha > 0 && s.err < 30), 'every sampled pixel is a colour of the map');
    let pairs = 0, agree = 0;
    const span = sampled.vmax - sampled.vmin;
    for (const a of sampled.out) for (const b of sampled.out) {
      const va = stored.values[a.i], vb = stored.values[b.i];
      const ca = Math.min(Math.max(va, sampled.vmin), sampled.vmax), cb = Math.min(Math.max(vb, sampled.vmin), sampled.vmax);
      if (cb - ca > 0.05 * span) { pairs++; if (b.k > a.k) agree++; }
    }
    check(pairs > 0 && agree === pairs, `higher value -> higher colour-map index (${agree}/${pairs} pairs)`);
    const hi = sampled.out.reduce((m, s) => (stored.values[s.i] > stored.values[m.i] ? s : m));
    check(hi.k >= 250, 'the highest spot takes the top of the colour map (index ' + hi.k + ')');

    // Hover: the tooltip shows the spot, and the value stored in the h5ad.
    const target = sampled.out[Math.floor(sampled.out.length / 2)].i;
    const p = await page.evaluate((i) => window.hiscmclViewer.spotClientXY(i), target);
    await page.mouse.move(p.x + 1, p.y + 1);
    await page.waitForFunction(() => !document.getElementById('tooltip').hidden, { timeout: 5000 });
    const tip = await page.$eval('#tooltip', (t) => Array.from(t.children).map((r) => r.textContent));
    const want = stored.values[target];
    const line = tip.find((t) => t.startsWith(gene + ' predicted: '));
    const shown = line ? parseFloat(line.split(': ')[1]) : NaN;
    check(tip[0] === 'spot: ' + stored.ids[target], 'tooltip names the spot (' + tip[0] + ')');
    check(Math.abs(shown - want) <= 1e-4 * Math.max(1, Math.abs(want)) + span / 65534,
          `tooltip value ${shown} = h5ad ${want}`);
    if (stored.sd) check(tip.some((t) => t.startsWith(gene + ' sd: ')), 'tooltip shows the sd');

    // Layers and toggles do not throw.
    for (const v of await page.$$eval('#layer option', (o) => o.map((x) => x.value))) {
      await page.select('#layer', v);
      await new Promise((r) => setTimeout(r, 150));
    }
    await page.select('#layer', 'pred');
    await page.click('#he-toggle');
    await page.click('#he-toggle');
    await new Promise((r) => setTimeout(r, 300));

    // Window resizes (issue: the slide was cut off at top and bottom after 1280 -> 1920 px): the
    // fitted slide is fitted again, whole and centred, and the spots stay on the tissue; a view the
    // user zoomed is left zoomed.
    const view = () => page.evaluate(() => {
      const V = window.hiscmclViewer, v = V.viewer, vp = v.viewport, item = v.world.getItemAt(0), D = window.HISCMCL_VIEWER;
      const r = vp.viewportToViewerElementRectangle(item.getBounds(true)), rect = v.canvas.getBoundingClientRect();
      // Where the overlay draws spot 0, against where OpenSeadragon puts that point of the slide.
      const s = V.spotClientXY(0), q = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(D.x[0], D.y[0]));
      return {
        w: v.container.clientWidth, h: v.container.clientHeight, expectW: document.getElementById('osd').clientWidth,
        winH: window.innerHeight, x: r.x, y: r.y, rw: r.width, rh: r.height,
        zoom: vp.getZoom(true), home: vp.getHomeZoom(),
        overlay: [V.overlay.clientWidth, V.overlay.clientHeight, v.canvas.clientWidth, v.canvas.clientHeight],
        spotErr: Math.hypot(s.x - rect.left - q.x, s.y - rect.top - q.y)
      };
    });
    const spotsDrawn = () => page.evaluate(() => {
      const V = window.hiscmclViewer, ctx = V.overlay.getContext('2d'), dpr = window.devicePixelRatio || 1;
      const rect = V.viewer.canvas.getBoundingClientRect(), n = window.HISCMCL_VIEWER.ids.length;
      let drawn = 0;
      for (let i = 0; i < n; ++i) {
        const p = V.spotClientXY(i), x = Math.round((p.x - rect.left) * dpr), y = Math.round((p.y - rect.top) * dpr);
        if (x >= 0 && y >= 0 && x < V.overlay.width && y < V.overlay.height && ctx.getImageData(x, y, 1, 1).data[3] > 0) drawn++;
      }
      return { drawn, n };
    });
    const checkFitted = async (what) => {
      const f = await view();
      check(f.w === f.expectW && f.h === f.winH, `${what}: the slide's area follows the window (${f.w}x${f.h})`);
      const inside = f.x >= -1 && f.y >= -1 && f.x + f.rw <= f.w + 1 && f.y + f.rh <= f.h + 1;
      const fills = Math.abs(f.rw - f.w) <= 1 || Math.abs(f.rh - f.h) <= 1;
      const centred = Math.abs(f.x + f.rw / 2 - f.w / 2) <= 1 && Math.abs(f.y + f.rh / 2 - f.h / 2) <= 1;
      check(inside && fills && centred, `${what}: the whole slide is in view, fitted and centred ` +
            `(${f.rw.toFixed(0)}x${f.rh.toFixed(0)} at ${f.x.toFixed(0)},${f.y.toFixed(0)} in ${f.w}x${f.h})`);
      check(f.overlay[0] === f.overlay[2] && f.overlay[1] === f.overlay[3] && f.spotErr < 0.5,
            `${what}: the spot canvas covers the slide's and spots sit on their point of the slide (off by ${f.spotErr.toFixed(2)} px)`);
      const d = await spotsDrawn();
      check(d.drawn === d.n, `${what}: every spot is drawn where it is (${d.drawn}/${d.n})`);
      return f;
    };
    await page.mouse.move(p.x + 1, p.y + 1);
    await new Promise((r) => setTimeout(r, 300));
    await checkFitted('1280x800');
    if (shots) {
      fs.mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'viewer_1280.png') });
    }
    await page.setViewport({ width: 1920, height: 1080 });
    await new Promise((r) => setTimeout(r, 1000));
    await checkFitted('resized to 1920x1080');
    if (shots) {
      await page.screenshot({ path: path.join(shots, 'viewer_1920.png') });
      if (await page.$('#layer option[value="regions"]')) {
        await page.select('#layer', 'regions');
        await new Promise((r) => setTimeout(r, 300));
        await page.screenshot({ path: path.join(shots, 'viewer_1920_regions.png') });
        await page.select('#layer', 'pred');
      }
    }
    await page.setViewport({ width: 1280, height: 800 });
    await new Promise((r) => setTimeout(r, 1000));
    await checkFitted('resized back to 1280x800');
    await page.setViewport({ width: 900, height: 1200 });
    await new Promise((r) => setTimeout(r, 1000));
    await checkFitted('resized to 900x1200 (taller than wide)');
    if (shots) await page.screenshot({ path: path.join(shots, 'viewer_900x1200.png') });
    // Zoomed in with the wheel: a resize keeps the user's view zoomed in, not back to the whole slide.
    await page.setViewport({ width: 1280, height: 800 });
    await new Promise((r) => setTimeout(r, 1000));
    const box = await page.$eval('#osd', (e) => { const b = e.getBoundingClientRect(); return { x: b.left + b.width / 2, y: b.top + b.height / 2 }; });
    await page.mouse.move(box.x, box.y);
    await page.mouse.wheel({ deltaY: -300 });
    await new Promise((r) => setTimeout(r, 1500));
    const zoomed = await view();
    await page.setViewport({ width: 1920, height: 1080 });
    await new Promise((r) => setTimeout(r, 1000));
    const after = await view();
    check(zoomed.zoom > 1.1 * zoomed.home && after.zoom > 1.1 * after.home,
          `a zoomed view stays zoomed after a resize (zoom/home ${(zoomed.zoom / zoomed.home).toFixed(2)} -> ${(after.zoom / after.home).toFixed(2)})`);
    check(after.spotErr < 0.5, `zoomed and resized: spots sit on their point of the slide (off by ${after.spotErr.toFixed(2)} px)`);
    // The home button fits the slide again, and the next resize keeps it fitted.
    await page.click('div[title="Go home"]');
    await new Promise((r) => setTimeout(r, 1500));
    await checkFitted('home button');
    await page.setViewport({ width: 1280, height: 800 });
    await new Promise((r) => setTimeout(r, 1000));
    await checkFitted('home, then resized to 1280x800');

    const outside = requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'));
    check(outside.length === 0, 'no request leaves the machine (' + requests.length + ' file:// requests)' +
          (outside.length ? ': ' + outside.slice(0, 3).join(', ') : ''));
    check(requests.some((u) => /tiles_files\/\d+\/\d+_\d+\.jpg$/.test(u)), 'tiles were loaded from the pyramid');
    check(errors.length === 0, 'no page errors' + (errors.length ? ': ' + errors.slice(0, 3).join(' | ') : ''));
  } finally {
    await browser.close();
  }
  console.log(failures ? failures + ' check(s) failed' : 'all checks passed');
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
