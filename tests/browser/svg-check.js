// svg-check.js - drives a profkit SVG flame graph in headless Chromium and
// checks what a person would do with it: hover, zoom, reset, search.
//
//   node svg-check.js FILE.svg
//
// CHROMIUM names the browser (default /usr/bin/chromium). Prints one line
// per check and "N passed, N failed"; exits 1 when a check fails.
'use strict';
const path = require('path');
const { chromium } = require('playwright-core');

const SEARCH_COLOR = 'rgb(230,0,230)';
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

// Every frame's title, rect geometry, fill and classes, in document order.
function frames(page) {
  return page.$$eval('#frames > g', (gs) =>
    gs.map((g) => {
      const r = g.querySelector('rect');
      return {
        title: g.querySelector('title').textContent,
        x: parseFloat(r.getAttribute('x')),
        w: parseFloat(r.getAttribute('width')),
        y: parseFloat(r.getAttribute('y')),
        fill: r.getAttribute('fill'),
        text: g.querySelector('text').textContent,
        hidden: g.classList.contains('hide'),
        parent: g.classList.contains('parent'),
      };
    }));
}

function nameOf(title) {
  return title.substring(0, title.lastIndexOf(' ('));
}

// The share of the root's width that frames matching re cover, with
// overlapping frames (a match inside a match) counted once.
function expectedMatch(all, re) {
  const spans = all.filter((f) => re.test(nameOf(f.title))).map((f) => [f.x, f.x + f.w]);
  spans.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = -Infinity;
  for (const [from, to] of spans) {
    const start = Math.max(from, end);
    if (to > start) covered += to - start;
    end = Math.max(end, to);
  }
  const pct = (100 * covered) / all[0].w;
  return `Matched: ${pct >= 100 ? '100' : pct.toFixed(1)}%`;
}

async function text(page, id) {
  return page.$eval(`#${id}`, (e) => e.textContent);
}

async function searchWith(page, term, how) {
  await page.evaluate((t) => {
    window.prompt = () => t;
  }, term);
  await how();
}

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node svg-check.js FILE.svg');
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`file://${path.resolve(file)}`);
    await page.waitForLoadState('load');

    const before = await frames(page);
    check('the SVG has frames', before.length > 1, `${before.length} frames`);
    check('no script errors on load', errors.length === 0, errors.join('; '));
    const root = before[0];
    check('the first frame is the root "all"', nameOf(root.title) === 'all', root.title);
    const full = root.w;
    const width = parseFloat(await page.$eval('svg', (s) => s.getAttribute('width')));
    check('the root spans the width less the margins', Math.abs(full - (width - 20)) < 0.05,
      `${full} of ${width}`);

    // A frame to zoom into: the widest that is neither the root nor as wide
    // as it, with something beside it that zooming hides.
    let pick = -1;
    before.forEach((f, i) => {
      if (i > 0 && f.w < full - 0.05 && (pick < 0 || f.w > before[pick].w)) pick = i;
    });
    check('a frame narrower than the root exists', pick > 0);
    if (pick < 0) return;
    const target = before[pick];
    const handle = (await page.$$('#frames > g'))[pick];

    await handle.hover();
    check('hovering a frame shows its title in the details line',
      (await text(page, 'details')) === target.title, await text(page, 'details'));
    await page.mouse.move(1, 1);
    check('leaving the frame clears the details line', (await text(page, 'details')).trim() === '');

    check('Reset Zoom is hidden before a zoom',
      await page.$eval('#unzoom', (e) => e.classList.contains('hide')));
    await handle.click();
    let now = await frames(page);
    const zoomed = now[pick];
    check('a clicked frame fills the width', Math.abs(zoomed.w - full) < 0.05 && zoomed.x === root.x,
      `x ${zoomed.x} width ${zoomed.w}`);
    const deeper = (e) => (e.y < target.y) === (root.y > target.y) && e.y !== target.y;
    const ancestors = now.filter((f, i) => before[i].y !== target.y && !deeper(before[i]) &&
      before[i].x <= target.x + 0.01 && before[i].x + before[i].w >= target.x + target.w - 0.01);
    check('its ancestors are shown dimmed across the width',
      ancestors.length > 0 && ancestors.every((f) => f.parent && !f.hidden && Math.abs(f.w - full) < 0.05));
    check('frames outside it are hidden', now.some((f) => f.hidden));
    const kids = [];
    before.forEach((f, i) => {
      if (deeper(f) && f.x >= target.x - 0.01 && f.x + f.w <= target.x + target.w + 0.01) kids.push(i);
    });
    const scale = full / target.w;
    check('its descendants are shown, scaled with it', kids.every((i) => !now[i].hidden &&
      Math.abs(now[i].w - before[i].w * scale) < 0.11));
    const font = await page.evaluate(() => pkfg.fontSize * pkfg.fontWidth);
    const fits = now.every((f) => {
      const chars = Math.floor(f.w / font);
      const name = nameOf(f.title);
      return f.text === (chars < 3 ? '' : name.length > chars ? `${name.substring(0, chars - 2)}..` : name);
    });
    check('every label is cut again to its new width', fits);
    check('Reset Zoom shows', !(await page.$eval('#unzoom', (e) => e.classList.contains('hide'))));

    await page.click('#unzoom');
    now = await frames(page);
    const same = now.every((f, i) => f.x === before[i].x && f.w === before[i].w &&
      f.text === before[i].text && !f.hidden && !f.parent);
    check('Reset Zoom restores every frame', same);
    check('Reset Zoom hides itself', await page.$eval('#unzoom', (e) => e.classList.contains('hide')));

    // Search: the button, Ctrl-F and F3 all ask for a regular expression.
    const term = nameOf(target.title).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await searchWith(page, term, () => page.click('#search'));
    now = await frames(page);
    const re = new RegExp(term);
    check('the Search button highlights the matching frames', now.every((f) =>
      (re.test(nameOf(f.title)) ? f.fill === SEARCH_COLOR : f.fill === before[now.indexOf(f)].fill)));
    const want = expectedMatch(before, re);
    check('the matched share is shown', (await text(page, 'matched')) === want,
      `${await text(page, 'matched')} vs ${want}`);
    await page.click('#search');
    now = await frames(page);
    check('clicking Search again resets the search',
      now.every((f, i) => f.fill === before[i].fill) && (await text(page, 'matched')).trim() === '');

    // A frame and one below it: the one below lies within the first, so the
    // share is not their sum.
    const inner = kids.length ? before[kids[kids.length - 1]] : null;
    const nested = inner ? `^(${term}|${nameOf(inner.title).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})$` : `^${term}$`;
    await searchWith(page, nested, () => page.keyboard.press('Control+f'));
    const nre = new RegExp(nested);
    const naive = before.filter((f) => nre.test(nameOf(f.title))).reduce((a, f) => a + f.w, 0);
    const wantNested = expectedMatch(before, nre);
    check('Ctrl-F searches, and a match inside a match counts once',
      (await text(page, 'matched')) === wantNested && (!inner || naive > target.w),
      `${await text(page, 'matched')} vs ${wantNested}`);
    await searchWith(page, 'NO SUCH FRAME', () => page.keyboard.press('F3'));
    check('F3 searches again', (await text(page, 'matched')) === 'Matched: 0.0%', await text(page, 'matched'));
    check('no script errors at all', errors.length === 0, errors.join('; '));
  } finally {
    await browser.close();
  }
}

main()
  .catch((e) => {
    failed++;
    console.log(`FAIL: ${e.stack || e}`);
  })
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
  });
