// speedscope-check.js - profkit's speedscope files against speedscope itself:
// its published JSON schema, and its web app in headless Chromium.
//
//   node speedscope-check.js validate FILE...
//       Each file must validate against the file-format-schema.json that the
//       speedscope npm package ships (with ajv).
//   node speedscope-check.js view OUTDIR FILE:NAME:FRAME[,FRAME...]...
//       Serves speedscope's app (node_modules/speedscope/dist/release) and
//       the files on 127.0.0.1, opens each file with #profileURL= and checks
//       that no error or alert appears, that the title shows NAME (empty:
//       the file's name), that the first profile shown is the file's
//       activeProfileIndex, that selecting a frame shows its file and line,
//       and that the sandwich view's search finds every FRAME and the three
//       frames of the largest self weight; and lets speedscope export the
//       file again, into OUTDIR/<base>.exported.json.
//
// CHROMIUM names the browser (default /usr/bin/chromium). Prints one line
// per check and "N passed, N failed"; exits 1 when a check fails.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

let passed = 0;
let failed = 0;

function check(what, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok: ${what}`);
  } else {
    failed++;
    console.log(`FAIL: ${what}${detail === undefined ? '' : ` (${detail})`}`);
  }
}

function speedscopeRoot() {
  return path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release');
}

function validate(files) {
  const Ajv = require('ajv');
  const schema = JSON.parse(fs.readFileSync(path.join(speedscopeRoot(), 'file-format-schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: false });
  const valid = ajv.compile(schema);
  for (const file of files) {
    let data;
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      check(`${path.basename(file)} is JSON`, false, e.message);
      continue;
    }
    const ok = valid(data);
    check(`${path.basename(file)} validates against speedscope's schema`, ok,
      ok ? undefined : ajv.errorsText(valid.errors).slice(0, 500));
    // What the schema cannot say: speedscope refuses these.
    const frames = data.shared.frames.length;
    let good = true;
    let why = '';
    for (const p of data.profiles) {
      if (p.type !== 'sampled') continue;
      if (p.samples.length !== p.weights.length) {
        good = false;
        why = `${p.name}: ${p.samples.length} samples, ${p.weights.length} weights`;
      }
      if (p.weights.some((w) => !(w > 0) || !Number.isInteger(w))) {
        good = false;
        why = `${p.name}: a weight is not a positive integer`;
      }
      if (p.samples.some((s) => s.some((f) => !Number.isInteger(f) || f < 0 || f >= frames))) {
        good = false;
        why = `${p.name}: a frame index is out of range`;
      }
      const sum = p.weights.reduce((a, b) => a + b, 0);
      if (p.startValue !== 0 || p.endValue !== sum) {
        good = false;
        why = `${p.name}: endValue ${p.endValue}, weights add up to ${sum}`;
      }
    }
    check(`${path.basename(file)}: weights positive, frames in range, endValue the sum`, good, why);
  }
}

// The names of the n frames of the largest self weight in profile p.
function heaviest(data, p, n) {
  if (p.type !== 'sampled') return [];
  const total = new Map();
  p.samples.forEach((stack, i) => {
    if (stack.length) total.set(stack[stack.length - 1], (total.get(stack[stack.length - 1]) || 0) + p.weights[i]);
  });
  return [...total.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([f]) => data.shared.frames[f].name);
}

function contentType(file) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
    '.wasm': 'application/wasm', '.png': 'image/png', '.json': 'application/json',
    '.woff2': 'font/woff2', '.txt': 'text/plain', '.ico': 'image/x-icon' };
  return types[path.extname(file)] || 'application/octet-stream';
}

// A server for speedscope's files and the profiles (under /files/), on
// 127.0.0.1 only.
function serve(root, files) {
  const byName = new Map(files.map((f) => [path.basename(f), f]));
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url.split('?')[0]);
    let file;
    if (url.startsWith('/files/')) {
      file = byName.get(url.slice(7));
    } else {
      file = path.join(root, url === '/' ? 'index.html' : url);
      if (!file.startsWith(root)) file = undefined;
    }
    if (file === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': contentType(file) });
      res.end(data);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function view(outdir, specs) {
  const { chromium } = require('playwright-core');
  const items = specs.map((s) => {
    const [file, name, frames] = s.split(':');
    return { file, name, frames: frames ? frames.split(',') : [] };
  });
  const server = await serve(speedscopeRoot(), items.map((i) => i.file));
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    for (const item of items) {
      const label = path.basename(item.file);
      const data = JSON.parse(fs.readFileSync(item.file, 'utf8'));
      const active = data.profiles[data.activeProfileIndex || 0];
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 }, acceptDownloads: true });
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('dialog', (d) => {
        errors.push(`alert: ${d.message()}`);
        d.dismiss().catch(() => {});
      });
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      const url = `${base}/files/${encodeURIComponent(label)}`;
      await page.goto(`${base}/index.html#profileURL=${encodeURIComponent(url)}`);
      let shown = true;
      const name = item.name || data.name;
      try {
        await page.waitForFunction((n) => document.title === `${n} - speedscope`, name, { timeout: 15000 });
      } catch (e) {
        shown = false;
      }
      check(`${label}: the title shows "${name}"`, shown, await page.title());
      const body = await page.evaluate(() => document.body.innerText);
      const count = data.profiles.length;
      const want = count > 1 ? `${active.name} (${(data.activeProfileIndex || 0) + 1}/${count})` : active.name;
      check(`${label}: the toolbar shows the active profile "${want}"`, body.includes(want),
        body.slice(0, 200));

      // The detail panel of a frame of the flame chart: its name and where
      // it is, as the file has them. On a loaded machine the chart may be
      // drawn late and the panel later still: wait for it, and click again
      // while it has not come.
      const detailLine = '^\\S.*\\(\\S*%\\) '; // "name (12.3%) " opens the panel
      let detail = [];
      let at = -1;
      for (let attempt = 0; attempt < 5 && at < 0; attempt++) {
        await page.mouse.click(40, 153);
        await page.waitForFunction((re) => document.body.innerText.split('\n').some((l) => new RegExp(re).test(l)),
          detailLine, { timeout: 3000 }).catch(() => {});
        detail = (await page.evaluate(() => document.body.innerText)).split('\n');
        at = detail.findIndex((l) => new RegExp(detailLine).test(l));
      }
      if (at >= 0) {
        const name = detail[at].replace(/^.*?\(\S*%\) /, '');
        const where = detail[at + 1] || '';
        const ok = data.shared.frames.some((f) => f.name === name &&
          (f.file === undefined ? !where.includes(':') || where.startsWith('This Instance')
            : where === `${f.file}:${f.line === undefined ? '' : f.line}`));
        check(`${label}: selecting ${name} shows it where the file has it (${where})`, ok);
      } else {
        check(`${label}: selecting a frame shows its details`, false, detail.slice(0, 5).join(' | '));
      }

      // speedscope's own export of what it read.
      try {
        const [download] = await Promise.all([
          page.waitForEvent('download', { timeout: 10000 }),
          page.click('text=Export'),
        ]);
        const out = path.join(outdir, label.replace(/\.speedscope\.json$/, '') + '.exported.json');
        await download.saveAs(out);
        check(`${label}: speedscope exports it again`, fs.statSync(out).size > 0);
      } catch (e) {
        check(`${label}: speedscope exports it again`, false, e.message);
      }

      // The sandwich view, a table of frames, searched for each name.
      await page.keyboard.press('3');
      await page.waitForTimeout(300);
      await page.keyboard.press('Control+f');
      const frames = item.frames.concat(heaviest(data, active, 3));
      const missing = [];
      for (const f of frames) {
        // The search box has the focus: replace its text.
        await page.keyboard.press('Control+a');
        await page.keyboard.type(f);
        const found = await page.waitForFunction((name) => document.body.innerText.split('\n')
          .some((l) => l.trim() === name), f, { timeout: 5000 }).then(() => true, () => false);
        if (!found) missing.push(f);
      }
      check(`${label}: the sandwich view finds ${frames.join(', ')}`, missing.length === 0,
        `missing ${missing.join(', ')}`);
      check(`${label}: no error or alert`, errors.length === 0, errors.join(' | ').slice(0, 500));
      await page.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'validate' && args.length > 0) {
    validate(args);
  } else if (mode === 'view' && args.length > 1) {
    await view(args[0], args.slice(1));
  } else {
    console.error('usage: node speedscope-check.js validate FILE... | view OUTDIR FILE:NAME:FRAMES...');
    process.exit(2);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
