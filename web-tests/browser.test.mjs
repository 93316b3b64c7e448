// Browser tests of the xikang web pages: Debian's chromium driven by playwright-core.
// Started by run.sh against a demo server; needs XIKANG_URL and XIKANG_ADMIN_PASSWORD.
// Screenshots go to $SCREENSHOTS (default web-tests/screenshots).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const base = process.env.XIKANG_URL;
const adminPassword = process.env.XIKANG_ADMIN_PASSWORD;
const adminToken = process.env.XIKANG_ADMIN_TOKEN;
const shots = process.env.SCREENSHOTS || new URL('./screenshots', import.meta.url).pathname;
assert.ok(base && adminPassword && adminToken,
  'XIKANG_URL, XIKANG_ADMIN_PASSWORD and XIKANG_ADMIN_TOKEN are required');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

let passed = 0;
let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
    throw e;
  }
}

async function login(page, name, password) {
  await page.goto(`${base}/web/login`);
  await page.getByLabel('用户名').fill(name);
  await page.getByLabel('密码').fill(password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForLoadState('load');
}

/**
 * The HTTP API as the demo's admin token: sets up what the pages then act on (tubes, batches,
 * sentinel reports), the way lab instruments and other systems would. Returns the JSON answer
 * and fails the step unless the status is `expect`.
 */
async function api(method, path, body, expect = 200) {
  const r = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  assert.equal(r.status, expect, `${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

/** An admin creates a web user on the users page; `who` is the venue or person field. */
async function createUser(page, name, password, role, who = {}) {
  await page.goto(`${base}/web/admin/users`);
  await assertLabelled(page);
  await page.getByLabel('用户名').fill(name);
  await page.getByLabel(/初始密码/).fill(password);
  await page.getByLabel('角色').selectOption(role);
  if (who.venue) await page.getByLabel(/场所/).fill(who.venue);
  if (who.person) await page.getByLabel(/人员/).fill(who.person);
  if (who.enterprise) await page.getByLabel(/信用代码/).fill(who.enterprise);
  await page.getByRole('button', { name: '创建' }).click();
  await page.waitForLoadState('load');
  assert.ok(page.url().endsWith('/web/admin/users'), `user ${name} created: ${page.url()}`);
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core over the whole page: no WCAG 2.0/2.1 A or AA violation. Evaluated through the
 * DevTools protocol, which the pages' Content-Security-Policy does not govern.
 */
async function assertAxe(page) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => globalThis.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const found = r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(found, [], `axe violations on ${page.url()}`);
}

/** Every visible form control has a label (accessibility). */
async function assertLabelled(page) {
  const unlabelled = await page.$$eval('input:not([type=hidden]), select', (els) =>
    els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.outerHTML));
  assert.deepEqual(unlabelled, [], `unlabelled controls on ${page.url()}`);
}

// Waits until the textarea #csv holds `text` (our lab.js fills it from the picked file).
// Polls through locators: page.waitForFunction re-evaluates its predicate as a string once
// the first check fails, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses.
async function waitForCsv(page, text) {
  for (let i = 0; i < 200; i++) {
    if ((await page.locator('#csv').inputValue()).includes(text)) return;
    await page.waitForTimeout(50);
  }
  assert.fail(`#csv never held ${text}`);
}

function localTime(offsetHours) {
  // Beijing wall time for a datetime-local input.
  const d = new Date(Date.now() + (8 + offsetHours) * 3600 * 1000);
  return d.toISOString().slice(0, 16);
}

const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
let casesRegistered = 0;
let contact = null;
let contactKind = null;
let caseUrl = null;
let gridWorker = null;

try {
  await step('an admin logs in and lands on the dashboard with its charts', async () => {
    await login(page, 'admin', 'not the password');
    await assert.doesNotReject(page.getByRole('alert').waitFor());
    assert.match(await page.getByRole('alert').innerText(), /用户名或密码错误/);
    await login(page, 'admin', adminPassword);
    assert.ok(page.url().endsWith('/web/dashboard'), page.url());
    assert.equal(await page.locator('svg.chart').count(), 3);
    await page.screenshot({ path: `${shots}/dashboard.png`, fullPage: true });
  });

  await step('the dashboard charts at 1280 px have labels of 11 px or more, value ticks, hover values and data tables', async () => {
    const charts = await page.locator('svg.chart').evaluateAll((svgs) => svgs.map((svg) => {
      // Rendered size: the font size in view-box units times the view box's scale on screen.
      const scale = svg.getScreenCTM().a;
      const sizes = [...svg.querySelectorAll('text')].map((t) => parseFloat(getComputedStyle(t).fontSize) * scale);
      const fig = svg.closest('figure');
      return {
        sizes,
        ticks: [...svg.querySelectorAll('text.tick')].map((t) => Number(t.dataset.value)),
        xlabels: svg.querySelectorAll('text.xlabel').length,
        bars: [...svg.querySelectorAll('rect')].map((r) => [r.dataset.value, r.querySelector('title')?.textContent ?? '']),
        table: [...fig.querySelectorAll('details table tbody tr')].map((tr) => tr.querySelector('td').textContent),
      };
    }));
    assert.equal(charts.length, 3);
    for (const c of charts) {
      assert.ok(c.sizes.length > 0 && Math.min(...c.sizes) >= 11, `chart label sizes ${c.sizes.map((x) => x.toFixed(1))}`);
      assert.ok(c.ticks.length >= 2 && c.ticks[0] === 0, `ticks ${c.ticks}`);
      for (let i = 1; i < c.ticks.length; i += 1) assert.ok(c.ticks[i] > c.ticks[i - 1], `ticks ascend: ${c.ticks}`);
      assert.ok(Math.max(...c.bars.map((b) => Number(b[0]))) <= c.ticks[c.ticks.length - 1], 'the top tick covers the bars');
      assert.ok(c.xlabels >= 7, `day labels: ${c.xlabels}`);
      assert.equal(c.bars.length, 14);
      for (const [v, title] of c.bars) assert.match(title, new RegExp(`^\\d\\d-\\d\\d: ${v}$`));
      // The table holds the same numbers as the bars, in the same order.
      assert.deepEqual(c.table, c.bars.map((b) => b[0]));
    }
    // The table is reachable: opening it shows the numbers.
    const details = page.locator('.charts figure').first().locator('details');
    await details.locator('summary').click();
    assert.ok(await details.locator('table').isVisible());
    await page.locator('.charts').screenshot({ path: `${shots}/dashboard-charts.png` });
    await assertAxe(page);
  });

  await step('the dashboard map draws one named shape per district with a legend', async () => {
    const shapes = await page.locator('#map-districts path.district').evaluateAll((ps) =>
      ps.map((p) => ({ code: p.dataset.district, name: p.dataset.name, title: p.querySelector('title').textContent })));
    assert.equal(shapes.length, 7, JSON.stringify(shapes));
    assert.equal(new Set(shapes.map((s) => s.code)).size, 7);
    for (const s of shapes) {
      assert.match(s.name, /区$|市$/, `named: ${JSON.stringify(s)}`);
      assert.ok(s.title.startsWith(s.name) && /每万居民/.test(s.title), s.title);
    }
    assert.ok((await page.locator('#map-districts-legend li').count()) >= 2, 'a legend');
    // Its figures as a table, one row per district.
    assert.equal(await page.locator('#districts-table tbody tr').count(), 7);
    const box = await page.locator('#map-districts').boundingBox();
    assert.ok(box.width >= 400, `the map is ${box.width}px wide`);
    await page.locator('#map-districts').screenshot({ path: `${shots}/map-districts.png` });
    await page.goto(`${base}/web/dashboard?lang=en`);
    assert.equal(await page.locator('#map-districts path.district').count(), 7);
    await assertAxe(page);
  });

  await step('the live dashboard leaves the page alone when nothing changed and stops when paused', async () => {
    await page.goto(`${base}/web/dashboard?refresh=2`);
    const toggle = page.locator('#live-toggle');
    assert.ok(await toggle.isVisible(), 'the pause button shows once the script runs');
    assert.equal(await page.locator('#live[aria-live]').count(), 0, 'the whole dashboard is not a live region');
    const refreshes = async () => Number((await toggle.getAttribute('data-refreshes')) ?? 0);
    const waitRefreshes = async (n) => {
      for (let i = 0; i < 100 && (await refreshes()) < n; i += 1) await page.waitForTimeout(200);
      assert.ok((await refreshes()) >= n, `${n} refreshes`);
    };
    await page.evaluate(() => {
      window.xkMutations = 0;
      new MutationObserver((records) => { window.xkMutations += records.length; })
        .observe(document.getElementById('live'), { subtree: true, childList: true, attributes: true, characterData: true });
    });
    // Two refreshes of unchanged figures touch nothing. (Figures recomputed in between may
    // differ for real; a window with a real change is retried, at most three times.)
    let quiet = false;
    for (let w = 0; w < 3 && !quiet; w += 1) {
      await page.evaluate(() => { window.xkMutations = 0; });
      await waitRefreshes((await refreshes()) + 2);
      quiet = (await page.evaluate(() => window.xkMutations)) === 0;
    }
    assert.ok(quiet, 'unchanged refreshes did not touch the DOM');
    await toggle.click();
    assert.equal(await toggle.getAttribute('data-paused'), 'true');
    assert.equal((await toggle.innerText()).trim(), '继续自动刷新');
    const paused = await refreshes();
    await page.waitForTimeout(5000);
    assert.equal(await refreshes(), paused, 'no refresh while paused');
    await toggle.click();
    assert.equal(await toggle.getAttribute('data-paused'), 'false');
    await waitRefreshes(paused + 1);
  });

  await step('a tracer registers a case and sees its contacts with evidence', async () => {
    for (let p = 1; p < 80 && !contact; p += 1) {
      await page.goto(`${base}/web/cases`);
      await assertLabelled(page);
      await page.getByLabel('人员编号').fill(`P${p}`);
      await page.getByLabel('类型').selectOption('confirmed');
      await page.getByLabel('发病时间').fill(localTime(-24));
      await page.getByRole('button', { name: '登记病例' }).click();
      await page.waitForLoadState('load');
      if (!/\/web\/cases\/C\d+/.test(page.url())) continue; // e.g. the index still loading
      casesRegistered += 1;
      // The tracing index may still be loading right after start: retry the page.
      for (let i = 0; i < 20 && (await page.locator('#contact-count').count()) === 0; i += 1) {
        await page.waitForTimeout(500);
        await page.reload();
      }
      const row = page.locator('tr[data-status="Candidate"]').first();
      if ((await row.count()) > 0) {
        contact = await row.getAttribute('data-person');
        contactKind = await row.locator('td').nth(1).innerText();
        caseUrl = page.url();
      }
    }
    assert.ok(contact, 'some case has contacts');
    const n = Number(await page.locator('#contact-count').getAttribute('data-count'));
    assert.ok(n > 0, `contacts listed: ${n}`);
    await page.screenshot({ path: `${shots}/case-contacts.png` });
  });

  await step('confirming a contact turns their code red on their page', async () => {
    const row = page.locator(`tr[data-person="${contact}"]`);
    await row.locator('button[data-action="confirm"]').click();
    await page.waitForLoadState('load');
    assert.equal(await page.locator(`tr[data-person="${contact}"]`).getAttribute('data-status'), 'Confirmed');
    await page.goto(`${base}/web/people/${contact}`);
    assert.equal(await page.locator('#colour').getAttribute('data-colour'), 'red');
    assert.match(await page.locator('#colour').innerText(), /红码/);
    await page.screenshot({ path: `${shots}/person-red.png`, fullPage: true });
  });

  let redToken = null;
  await step('the resident sees their own red code on a phone', async () => {
    await createUser(page, 'res1', 'resident-password-1', 'resident', { person: contact });
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 }, isMobile: true });
    const p = await phone.newPage();
    await login(p, 'res1', 'resident-password-1');
    assert.ok(p.url().endsWith('/web/me'), p.url());
    assert.equal(await p.locator('#colour').getAttribute('data-colour'), 'red');
    assert.match(await p.content(), /如何转绿/);
    // Nothing overflows the phone's width.
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 375, `page is ${wide}px wide`);
    redToken = (await p.locator('#token').textContent()).trim();
    await p.screenshot({ path: `${shots}/resident-phone.png`, fullPage: true });
    await phone.close();
  });

  await step('a venue scan of the red code says deny, large and in colour', async () => {
    await createUser(page, 'door1', 'door-password-1', 'venue_device', { venue: 'V1' });
    const door = await browser.newContext({ locale: 'zh-CN' });
    const d = await door.newPage();
    await login(d, 'door1', 'door-password-1');
    assert.ok(d.url().endsWith('/web/venue'), d.url());
    await assertLabelled(d);
    // A scanner gun types the code and presses Enter.
    await d.getByLabel(/健康码/).fill(redToken);
    await d.keyboard.press('Enter');
    await d.waitForLoadState('load');
    const verdict = d.locator('.verdict');
    assert.equal(await verdict.getAttribute('data-decision'), 'deny');
    assert.match(await verdict.innerText(), /禁止进入/);
    const bg = await verdict.evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(bg, 'rgb(179, 38, 30)');
    // The code field has the focus again for the next person.
    assert.equal(await d.evaluate(() => document.activeElement.id), 'code');
    await d.screenshot({ path: `${shots}/venue-deny.png` });
    await door.close();
  });

  await step('the bulletin shows the figures of the day', async () => {
    await page.goto(`${base}/web/bulletin`);
    assert.equal(Number(await page.locator('#cumulative-confirmed').innerText()), casesRegistered);
    assert.equal(Number(await page.locator('#new-local-confirmed').innerText()), casesRegistered);
    if (contactKind === '密接') {
      assert.equal(Number(await page.locator('#close-contacts-traced').innerText()), 1);
      assert.equal(Number(await page.locator('#close-contacts-under-observation').innerText()), 1);
    }
    assert.match(await page.locator('article').innerText(), new RegExp(`全市新增本土确诊病例${casesRegistered}例`));
    await page.screenshot({ path: `${shots}/bulletin-zh.png`, fullPage: true });
    await page.getByRole('link', { name: 'English' }).click();
    await page.waitForLoadState('load');
    assert.equal(await page.locator('h1').innerText(), 'Daily bulletin');
    await page.screenshot({ path: `${shots}/bulletin-en.png`, fullPage: true });
  });

  await step('the case page lists 50 contacts a page, filters them, names each action and decides a selection', async () => {
    await page.goto(`${base}/web/lang/zh?next=/web/cases`); // the bulletin step left English on
    await page.goto(caseUrl);
    const pageInfo = page.locator('#contact-page');
    const matching = Number(await pageInfo.getAttribute('data-matching'));
    const shown = await page.locator('#contacts tbody tr').count();
    assert.equal(shown, Math.min(50, matching), `rows on the first page of ${matching}`);
    if (matching > 50) {
      await page.locator('#contact-page a[rel=next]').click();
      await page.waitForLoadState('load');
      assert.equal(await page.locator('#contact-page').getAttribute('data-start'), '50');
      await page.goto(caseUrl);
    }
    // Every action is named with its person.
    const unnamed = await page.locator('#contacts tbody tr').evaluateAll((rows) => rows.flatMap((r) =>
      [...r.querySelectorAll('button')].filter((b) => !(b.getAttribute('aria-label') || '').endsWith(r.dataset.person))
        .map((b) => `${r.dataset.person}: ${b.outerHTML}`)));
    assert.deepEqual(unnamed, []);
    await assertLabelled(page);
    await assertAxe(page);
    // Filters: candidates only, then close contacts only.
    await page.getByLabel('状态').selectOption('candidate');
    await page.getByRole('button', { name: '筛选' }).click();
    await page.waitForLoadState('load');
    assert.match(page.url(), /status=candidate/);
    const statuses = await page.locator('#contacts tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.status));
    assert.ok(statuses.length >= 1, `candidates listed: ${statuses.length}`);
    assert.ok(statuses.every((x) => x === 'Candidate'), `only candidates: ${statuses}`);
    await page.goto(`${caseUrl}?kind=close`);
    const kinds = await page.locator('#contacts tbody tr td:nth-child(3)').allInnerTexts();
    assert.ok(kinds.every((k) => k === '密接'), `only close contacts: ${kinds}`);
    // Bulk: dismissing without a reason changes nothing; with one, both ticked rows.
    await page.goto(`${caseUrl}?status=candidate`);
    const picked = (await page.locator('#contacts tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.person))).slice(0, 2);
    for (const p of picked) await page.locator(`#pick-${p}`).check();
    await page.getByLabel('操作', { exact: true }).selectOption('dismiss');
    await page.getByRole('button', { name: '处理勾选' }).click();
    await page.waitForLoadState('load');
    assert.match(await page.locator('p.err').innerText(), /排除需要填写原因/);
    for (const p of picked) assert.equal(await page.locator(`tr[data-person="${p}"]`).getAttribute('data-status'), 'Candidate');
    await page.goto(`${caseUrl}?status=candidate`);
    for (const p of picked) await page.locator(`#pick-${p}`).check();
    await page.getByLabel('操作', { exact: true }).selectOption('dismiss');
    await page.getByLabel(/排除原因（排除时必填）/).fill('同时段不在同一楼层');
    await page.getByRole('button', { name: '处理勾选' }).click();
    await page.waitForLoadState('load');
    assert.match(await page.locator('p.ok').innerText(), new RegExp(`已排除 ${picked.length} 人`));
    await page.goto(`${caseUrl}?status=dismissed`);
    const dismissed = await page.locator('#contacts tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.person));
    for (const p of picked) assert.ok(dismissed.includes(p), `${p} dismissed`);
    await page.screenshot({ path: `${shots}/case-filtered.png`, fullPage: true });
    // Languages: rule names are translated on the Chinese page; on the English page the
    // Chinese venue names carry lang="zh-CN".
    await page.goto(`${caseUrl}?kind=close`);
    assert.doesNotMatch(await page.locator('#contacts tbody').innerText(), /\bvenue\b/);
    await page.goto(`${caseUrl}?kind=close&lang=en`);
    assert.ok((await page.locator('#contacts tbody td span[lang="zh-CN"]').count()) > 0, 'venue names marked zh-CN');
    assert.match(await page.locator('#contacts tbody').innerText(), /\bvenue\b/);
    await assertAxe(page);

    // On a phone the action column fits: no sideways scrolling, every button on screen.
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 }, isMobile: true });
    const p = await phone.newPage();
    await login(p, 'admin', adminPassword);
    await p.goto(`${caseUrl}?status=candidate`);
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 375, `page is ${wide}px wide`);
    const right = await p.locator('#contacts button').evaluateAll((bs) => Math.max(...bs.map((b) => b.getBoundingClientRect().right)));
    assert.ok(right <= 375, `buttons reach ${right}px`);
    await p.screenshot({ path: `${shots}/case-phone.png` });
    await assertAxe(p);
    // The English dashboard on a phone too (its tables scroll sideways there).
    await p.goto(`${base}/web/dashboard?lang=en`);
    await assertAxe(p);
    await phone.close();
  });

  await step('the lab page reads a picked results file and reports each line', async () => {
    await page.goto(`${base}/web/lang/zh?next=/web/lab`);
    assert.ok(page.url().endsWith("/web/lab"), page.url());
    await assertLabelled(page);
    await page.setInputFiles('#file', {
      name: 'results.csv', mimeType: 'text/csv',
      buffer: Buffer.from('barcode,outcome,ct\nWX-NONE-1,negative\nWX-NONE-2,maybe\n'),
    });
    await waitForCsv(page, 'WX-NONE-2');
    await page.getByRole('button', { name: '上传结果' }).click();
    await page.waitForLoadState('load');
    const codes = await page.locator('tr.refused').evaluateAll((rows) => rows.map((r) => r.dataset.code));
    assert.deepEqual(codes, ['unknown_tube', 'invalid_outcome']);
    assert.match(await page.locator('#report').innerText(), /查无此试管条码/);
    await page.screenshot({ path: `${shots}/lab.png`, fullPage: true });
  });

  await step('a lab uploads a positive pool and sees its ten members held, their codes yellow', async () => {
    // A sampling site swabs ten residents into one 10-in-1 tube, which a courier takes to
    // the lab: the API calls the sampling app and the courier would make.
    const site = (await api('POST', '/sampling-sites', { name: '广场采样点', area: '320200', cell: 1 }, 201)).id;
    const tube = 'WX-BROWSER-POOL-1';
    await api('POST', '/tubes', { tubes: [{ barcode: tube, site, capacity: 10 }] }, 200);
    const members = Array.from({ length: 10 }, (_, i) => `P${2001 + i}`);
    const samples = [];
    for (const p of members) samples.push({ tube, token: (await api('GET', `/people/${p}/code`)).token });
    assert.equal((await api('POST', '/samples', { samples }, 200)).accepted, 10);
    const batch = (await api('POST', '/batches', { courier: '顺丰-07', lab: 'kingmed', tubes: [tube] }, 201)).batch;
    assert.equal((await api('POST', `/batches/${batch}/receive`, {}, 200)).accepted, 1);
    assert.equal((await api('GET', `/people/${members[0]}/code`)).colour, 'green');

    await createUser(page, 'lab1', 'lab-password-11', 'lab');
    const lab = await browser.newContext({ locale: 'zh-CN' });
    const l = await lab.newPage();
    await login(l, 'lab1', 'lab-password-11');
    assert.ok(l.url().endsWith('/web/lab'), l.url());
    assert.equal(await l.locator('#holds-count').getAttribute('data-count'), '0');
    await l.setInputFiles('#file', {
      name: 'kingmed-results.csv', mimeType: 'text/csv',
      buffer: Buffer.from(`barcode,outcome,ct\n${tube},positive,31.2\n`),
    });
    await waitForCsv(l, tube);
    await l.getByRole('button', { name: '上传结果' }).click();
    await l.waitForLoadState('load');
    const line = l.locator('#report tr.accepted');
    assert.equal(await line.getAttribute('data-holds'), '10');
    assert.match(await line.innerText(), /阳性混管，10 人待单管复核/);
    assert.equal(await l.locator('#holds-count').getAttribute('data-count'), '10');
    const held = await l.locator('#holds tbody tr td:first-child').allInnerTexts();
    assert.deepEqual([...held].sort(), [...members].sort());
    await l.screenshot({ path: `${shots}/lab-positive-pool.png`, fullPage: true });
    // A held member's code is yellow, in words, on their page (staff view).
    await page.goto(`${base}/web/people/${members[3]}`);
    assert.equal(await page.locator('#colour').getAttribute('data-colour'), 'yellow');
    assert.match(await page.locator('#colour').innerText(), /黄码/);
    await page.screenshot({ path: `${shots}/person-held-yellow.png`, fullPage: true });
    await lab.close();
  });

  await step('a grid worker completes a task on a phone, a blank note refused next to the field', async () => {
    // A pharmacy (哨点) reports a buyer of fever medicine: the community must arrange a test,
    // which becomes a task for the grid worker of the buyer's home cell.
    const person = 'P2500';
    await api('POST', '/sentinels', { venue: 'V2', kind: 'pharmacy' }, 201);
    await api('POST', '/sentinels/reports', { venue: 'V2', person }, 201);
    const cell = (await api('GET', `/people/${person}`)).home_cell;
    // The synthetic city names each cell's worker gw{cell}.
    const worker = `gw${cell}`;
    gridWorker = worker;
    await createUser(page, worker, 'grid-password-1', 'grid_worker');
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 }, isMobile: true });
    const g = await phone.newPage();
    await login(g, worker, 'grid-password-1');
    assert.ok(g.url().endsWith('/web/grid'), g.url());
    await assertLabelled(g);
    const open = Number(await g.locator('#task-count').getAttribute('data-open'));
    const task = g.locator('li.task', { has: g.locator(`a[href="/web/people/${person}"]`) });
    assert.equal(await task.count(), 1, 'the sentinel task is listed');
    const id = (await task.getAttribute('id')).replace('task-', '');
    assert.match(await task.innerText(), /安排核酸检测/);
    const wide = await g.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 375, `page is ${wide}px wide`);
    await g.screenshot({ path: `${shots}/grid-phone.png`, fullPage: true });
    // Only blanks: the browser's `required` lets it through, the server refuses it.
    await g.locator(`#note-${id}`).fill('   ');
    await task.getByRole('button', { name: '标记完成' }).click();
    await g.waitForLoadState('load');
    const err = g.locator(`#note-${id}-err`);
    assert.equal(await err.count(), 1, 'the error is next to the note');
    assert.equal(await g.locator(`#note-${id}`).getAttribute('aria-invalid'), 'true');
    assert.equal(Number(await g.locator('#task-count').getAttribute('data-open')), open);
    await g.locator(`#note-${id}`).fill('已电话联系，明早 9 点上门采样');
    await g.locator(`#task-${id}`).getByRole('button', { name: '标记完成' }).click();
    await g.waitForLoadState('load');
    assert.ok(g.url().includes(`/web/grid?done=${id}`), g.url());
    assert.equal(await g.locator('#done').count(), 1);
    assert.equal(await g.locator(`#task-${id}`).count(), 0, 'the task left the list');
    assert.equal(Number(await g.locator('#task-count').getAttribute('data-open')), open - 1);
    await g.screenshot({ path: `${shots}/grid-done.png`, fullPage: true });
    await phone.close();
  });

  await step('the sampling, site and ranking pages render with labelled controls', async () => {
    await page.goto(`${base}/web/sampling`);
    await assertLabelled(page);
    assert.equal(await page.getByLabel('试管条码').count(), 1);
    await page.screenshot({ path: `${shots}/sampling.png` });
    await page.goto(`${base}/web/site`);
    await assertLabelled(page);
    await page.goto(`${base}/web/ranking`);
    assert.ok((await page.locator('#ranking tbody tr').count()) > 0, 'districts ranked');
    await page.screenshot({ path: `${shots}/ranking.png`, fullPage: true });
  });

  await step('the red resident appeals on a phone, an official answers, the colour stays red', async () => {
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 }, isMobile: true });
    const p = await phone.newPage();
    await login(p, 'res1', 'resident-password-1');
    await assertLabelled(p);
    // Only blanks: the browser's `required` lets it through, the server refuses it and
    // keeps the text.
    await p.getByLabel('申诉理由').fill('   ');
    await p.getByRole('button', { name: '提交申诉' }).click();
    await p.waitForLoadState('load');
    assert.equal(await p.locator('#reason-err').count(), 1, 'the error is next to the reason');
    assert.equal(await p.locator('#reason').getAttribute('aria-invalid'), 'true');
    await p.getByLabel('申诉理由').fill('我当天不在那家店，请核实。');
    await p.getByRole('button', { name: '提交申诉' }).click();
    await p.waitForLoadState('load');
    assert.ok(p.url().endsWith('/web/me'), p.url());
    assert.equal(await p.locator('article.appeal[data-open="true"]').count(), 1);
    assert.equal(await p.locator('#reason').count(), 0, 'one open appeal at a time');

    await page.goto(`${base}/web/appeals`);
    await assertLabelled(page);
    assert.equal(await page.locator('#appeal-count').getAttribute('data-open'), '1');
    const item = page.locator('li.appeal').first();
    assert.match(await item.innerText(), /我当天不在那家店/);
    await item.getByLabel('答复').fill('已核实扫码记录：您与病例同时在场，密接判定有效。');
    await page.screenshot({ path: `${shots}/appeals.png`, fullPage: true });
    await item.getByRole('button', { name: '提交答复' }).click();
    await page.waitForLoadState('load');
    assert.equal(await page.locator('#appeal-count').getAttribute('data-open'), '0');

    await p.reload();
    assert.match(await p.locator('article.appeal').innerText(), /密接判定有效/);
    assert.equal(await p.locator('#colour').getAttribute('data-colour'), 'red');
    await p.screenshot({ path: `${shots}/resident-appeal.png`, fullPage: true });
    await phone.close();
  });

  await step('a resident posts on the board from a phone, staff reply, the public page shows it masked and counted', async () => {
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 }, isMobile: true });
    const p = await phone.newPage();
    await p.goto(`${base}/board`);
    await assertLabelled(p);
    await assertAxe(p);
    const stats = p.locator('#board-stats');
    const received = Number(await stats.getAttribute('data-received'));
    const closed = Number(await stats.getAttribute('data-closed'));
    // Nothing wider than the phone's screen.
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'the board fits a phone-width screen');
    await p.getByLabel('留言类别').selectOption('supplies');
    await p.getByLabel('所在区').selectOption({ index: 1 });
    await p.getByLabel('标题').fill('封控楼栋三天未收到蔬菜包');
    await p.getByLabel('留言内容').fill('3 号楼 2 单元封控第三天，仍未收到蔬菜包，请联系 13812345678。');
    await p.getByRole('button', { name: '提交留言' }).click();
    await p.waitForLoadState('load');
    const posted = p.locator('#board-posted');
    assert.equal(await posted.count(), 1, 'the resident sees the number and deadline');
    const id = await posted.getAttribute('data-id');
    assert.match(await posted.innerText(), /生活保障组/);
    assert.equal(await p.locator(`#m-${id}`).count(), 0, 'not public before a reply');
    await p.screenshot({ path: `${shots}/board-posted.png`, fullPage: true });

    await page.goto(`${base}/web/messages`);
    await assertLabelled(page);
    const item = page.locator(`#m-${id}`);
    assert.match(await item.innerText(), /13812345678/, 'staff read the message whole');
    await item.getByLabel(/答复/).fill('已联系街道保供专班，今日 18 时前送达。如有问题请拨 13900001111。');
    await page.screenshot({ path: `${shots}/messages.png`, fullPage: true });
    await item.getByRole('button', { name: '提交答复' }).click();
    await page.waitForLoadState('load');
    assert.ok(page.url().endsWith('/web/messages'), page.url());
    assert.equal(await page.locator(`#m-${id}`).getAttribute('data-status'), 'closed');

    await p.goto(`${base}/board`);
    const shown = p.locator(`#m-${id}`);
    assert.equal(await shown.count(), 1, 'the answered message is public');
    const text = await shown.innerText();
    assert.match(text, /138\*{6}78/);
    assert.match(text, /139\*{6}11/);
    assert.doesNotMatch(text, /13812345678|13900001111/);
    assert.match(text, /已办结/);
    assert.equal(Number(await p.locator('#board-stats').getAttribute('data-received')), received + 1);
    assert.equal(Number(await p.locator('#board-stats').getAttribute('data-closed')), closed + 1);
    assert.match(await p.locator('#board-stats').innerText(), new RegExp(`收到留言 ${received + 1} 件，办结 ${closed + 1} 件`));
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'the answered list fits a phone-width screen');
    await assertAxe(p);
    await p.screenshot({ path: `${shots}/board.png`, fullPage: true });
    await phone.close();
  });

  await step('an enterprise logs in to its own page, and staff read inspections, capacity and the 季季评', async () => {
    await createUser(page, 'ent1', 'enterprise-password-1', 'enterprise', { enterprise: '91320200MA1BROWS1X' });
    const k = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 }, isMobile: true });
    const e = await k.newPage();
    await login(e, 'ent1', 'enterprise-password-1');
    assert.ok(e.url().endsWith('/web/enterprise'), e.url());
    assert.match(await e.locator('#credit-code').innerText(), /91320200MA1BROWS1X/);
    await assertLabelled(e);
    await assertAxe(e);
    // Another enterprise's filings and the staff pages are not its.
    const staffPage = await e.goto(`${base}/web/enterprises`);
    assert.equal(staffPage.status(), 403);
    await e.screenshot({ path: `${shots}/enterprise.png`, fullPage: true });
    await k.close();

    for (const path of ['/web/inspections', '/web/capacity', '/web/quarterly', '/web/responsibility', '/web/supplies']) {
      const r = await page.goto(`${base}${path}`);
      assert.equal(r.status(), 200, path);
      await assertLabelled(page);
    }
    await page.goto(`${base}/web/quarterly`);
    assert.ok((await page.locator('#quarterly tbody tr').count()) >= 1, 'a row per district');
    const csv = await page.evaluate(async () => (await fetch('/web/export/quarterly?format=csv')).text());
    assert.match(csv, /区县 district/);
    await page.goto(`${base}/web/capacity`);
    await page.screenshot({ path: `${shots}/capacity.png`, fullPage: true });
  });

  await step('the dashboard maps the cases and ranks districts with names and tracing times', async () => {
    // The figures are cached for 10 s and refreshed in the background: reload until the
    // registered cases show (at most half a minute).
    let casesOnMap = 0;
    for (let i = 0; i < 30 && casesOnMap < casesRegistered; i += 1) {
      await page.goto(`${base}/web/dashboard`);
      casesOnMap = await page.locator('#map-cases path:not(.cases-0)').evaluateAll((ps) =>
        ps.reduce((n, p) => n + Number(p.dataset.cells), 0));
      if (casesOnMap < casesRegistered) await page.waitForTimeout(1000);
    }
    // Cases of one cell share a square, so cells with cases ≤ cases.
    assert.ok(casesOnMap >= 1 && casesOnMap <= casesRegistered, `cells with cases: ${casesOnMap}`);
    assert.equal(await page.locator('svg.map').count(), 3);
    // The confirmed contact's red code fills their district above the lightest class.
    const classes = await page.locator('#map-districts path.district').evaluateAll((ps) => ps.map((p) => Number(p.dataset.class)));
    assert.ok(Math.max(...classes) >= 1, `district classes ${classes}`);
    assert.match(await page.locator('#map-zones desc').textContent(), /未划定 \d+ 个网格/);
    const traced = page.locator('#ranking tbody tr td[data-minutes]:not([data-minutes=""])');
    assert.ok((await traced.count()) >= 1, 'a district has a tracing time');
    assert.match(await page.locator('#ranking tbody').innerText(), /梁溪区|滨湖区|新吴区|锡山区|惠山区|江阴市|宜兴市/);
    await page.locator('#map-zones').screenshot({ path: `${shots}/map-zones.png` });
    await page.screenshot({ path: `${shots}/dashboard-after.png`, fullPage: true });
  });

  await step('axe finds no WCAG 2.1 A or AA violation on any page, in Chinese and English', async () => {
    const k = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const p = await k.newPage();
    // Before logging in: the pages anyone reaches.
    const open = ['/web/login', '/web/claim', '/board'];
    // As the city admin: every page the command centre uses.
    const staff = ['/web/dashboard', '/web/cases', new URL(caseUrl).pathname, `/web/people/${contact}`,
      '/web/bulletin', '/web/ranking', '/web/appeals', '/web/messages', '/web/enterprises', '/web/sampling', '/web/site',
      '/web/inspections', '/web/supplies', '/web/responsibility', '/web/capacity', '/web/quarterly',
      '/web/admin/users', '/web/admin/policy', '/web/peers', '/web/passes', '/web/assist'];
    const visit = async (paths) => {
      for (const lang of ['zh', 'en']) {
        for (const path of paths) {
          const r = await p.goto(`${base}${path}${path.includes('?') ? '&' : '?'}lang=${lang}`);
          assert.equal(r.status(), 200, `${path} (${lang})`);
          assert.equal(new URL(p.url()).pathname, path.split('?')[0], `${path} was not redirected`);
          await assertAxe(p);
        }
      }
    };
    await visit(open);
    // Each role's own pages, as the users the steps above created.
    const roles = [['res1', 'resident-password-1', ['/web/me']], ['door1', 'door-password-1', ['/web/venue']],
      ['lab1', 'lab-password-11', ['/web/lab']], [gridWorker, 'grid-password-1', ['/web/grid', '/web/inspections', '/web/supplies']],
      ['ent1', 'enterprise-password-1', ['/web/enterprise']],
      ['admin', adminPassword, staff]];
    for (const [name, password, paths] of roles) {
      await k.clearCookies();
      await login(p, name, password);
      await visit(paths);
    }
    await k.close();
  });

  await step('the keyboard reaches the login form and the skip link', async () => {
    const k = await browser.newContext({ locale: 'zh-CN' });
    const p = await k.newPage();
    await p.goto(`${base}/web/login`);
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement.className), 'skip');
    await p.keyboard.press('Tab');
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'name');
    await k.close();
  });
} catch {
  // reported by step()
} finally {
  await browser.close();
}

console.log(`browser tests: ${passed} passed, ${failed} failed; screenshots in ${shots}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
