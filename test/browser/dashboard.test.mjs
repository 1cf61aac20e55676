// dashboard.test.mjs - the dashboard in a real browser against the real binaries.
//
// Run through run.sh, which starts an orchestrator and an agent-sandbox and
// sets CLEUDO_URL and CLEUDO_TOKEN. The tests run in order and share one
// page, as a person would use it: the wrong token first, then log in, submit,
// watch, cancel, log out. Any JS error, CSP violation, dialog or request to
// another host fails the run (the last test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const BASE = (process.env.CLEUDO_URL || '').replace(/\/$/, '');
const TOKEN = process.env.CLEUDO_TOKEN || '';
const ART = process.env.CLEUDO_ARTIFACTS || join(REPO, 'build', 'test-artifacts', 'dashboard');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!BASE || !TOKEN)
    throw new Error('CLEUDO_URL and CLEUDO_TOKEN must be set (use test/browser/run.sh)');
const ORIGIN = new URL(BASE).origin;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };
const T = { timeout: 90_000 };

let browser, context, page;
const seen = { console: [], pageErrors: [], foreign: [], dialogs: [] };
const ids = {};                 // tasks made along the way, by role
const RUN = Math.random().toString(36).slice(2, 8);    // tells this run's tasks apart

// Expected HTTP refusals (the wrong token, the login page's session probe, a
// validation error, the test's own request without CSRF token) are logged by
// the browser as failed loads; they are not script errors. Anything else at
// level error fails the run.
const EXPECTED_LOAD = /^Failed to load resource: the server responded with a status of (400|401|403)\b/;
const EXPECTED_404 = /^Failed to load resource: the server responded with a status of 404\b/;  // of /api/tasks/{unknown}

function sameOrigin(u) {
    try {
        const url = new URL(u);
        if (url.protocol === 'blob:')
            return new URL(url.pathname).origin === ORIGIN;
        return url.origin === ORIGIN;
    } catch (e) {
        return false;
    }
}

function watch(p) {
    p.on('console', (msg) => {
        const text = msg.text();
        const expected = EXPECTED_LOAD.test(text) ||
            (EXPECTED_404.test(text) && /\/api\/tasks\/[^/]+$/.test(msg.location().url || ''));
        if (/Content[- ]Security[- ]Policy/i.test(text) || (msg.type() === 'error' && !expected))
            seen.console.push(`${msg.type()}: ${text} @ ${msg.location().url}`);
    });
    p.on('pageerror', (err) => seen.pageErrors.push(String(err && err.stack || err)));
    p.on('request', (req) => {
        if (!sameOrigin(req.url()))
            seen.foreign.push(req.url());
    });
    p.on('dialog', (d) => {
        seen.dialogs.push(`${d.type()}: ${d.message()}`);
        d.dismiss().catch(() => {});
    });
}

async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + TOKEN };
    if (body !== undefined)
        headers['Content-Type'] = 'application/json';
    const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch (e) {
        json = null;
    }
    return { status: res.status, headers: res.headers, json, text };
}

async function shot(name) {
    await page.screenshot({ path: join(ART, name + '.png'), fullPage: true });
}

async function go(hash) {
    await page.evaluate((h) => { location.hash = h; }, hash);
}

async function badgeBecomes(status, timeout = 30_000) {
    await page.waitForSelector(`#task-status .badge[data-status="${status}"]`, { timeout });
}

async function submitForm(mode, code, more) {
    await page.click('#nav a[href="#/submit"]');
    await page.waitForSelector('#submit-form');
    await page.selectOption('#mode', mode);
    await page.fill('#code', code);
    if (more)
        await more();
    await page.click('#submit');
    await page.waitForURL(/#\/tasks\/[^/]+$/, { timeout: 15_000 });
    const id = decodeURIComponent(new URL(page.url()).hash.split('/').pop());
    await page.waitForFunction((i) => document.querySelector('#task-id')?.textContent === i, id);
    return id;
}

async function markNoReload() {
    await page.evaluate(() => { window.__noReload = 'still-here'; });
}

async function assertNoReload() {
    assert.equal(await page.evaluate(() => window.__noReload), 'still-here', 'the page was reloaded');
}

before(async () => {
    mkdirSync(ART, { recursive: true });
    browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: false });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch(page);
});

after(async () => {
    if (browser)
        await browser.close();
});

test('security headers on / and every asset', T, async () => {
    const index = await fetch(BASE + '/');
    assert.equal(index.status, 200);
    const html = await index.text();
    for (const asset of ['/assets/app.js', '/assets/app.css', '/assets/favicon.svg'])
        assert.ok(html.includes(`"${asset}"`), `index.html references ${asset}`);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(html, /<style|\sstyle=/i, 'no inline style');
    const types = { '/': 'text/html', '/assets/app.js': 'javascript', '/assets/app.css': 'text/css',
                    '/assets/favicon.svg': 'image/svg+xml' };
    for (const [path, type] of Object.entries(types)) {
        const res = await fetch(BASE + path);
        assert.equal(res.status, 200, path);
        const csp = res.headers.get('content-security-policy') || '';
        for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
                         "frame-ancestors 'none'", "base-uri 'none'"])
            assert.ok(csp.includes(d), `${path}: CSP has ${d} (got ${JSON.stringify(csp)})`);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${path}: CSP stays strict`);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`);
        assert.ok(res.headers.get('referrer-policy'), `${path}: Referrer-Policy`);
        assert.ok((res.headers.get('content-type') || '').includes(type), `${path}: Content-Type ${type}`);
        if (path !== '/') {
            const body = Buffer.from(await res.arrayBuffer());
            const file = readFileSync(join(REPO, 'services/orchestrator/web', path.slice('/assets/'.length)));
            assert.ok(body.equals(file), `${path} is the file in services/orchestrator/web (rebuild?)`);
        }
    }
    const missing = await fetch(BASE + '/assets/nope.js');
    assert.equal(missing.status, 404);
});

test('a wrong token gets only the login page, with an error', T, async () => {
    await page.goto(BASE + '/');
    await page.waitForURL(/#\/login$/);
    await page.waitForSelector('#login-form');
    await shot('login');
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent === 'wrong token');
    await shot('login-wrong-token');
    assert.ok(await page.locator('#nav').isHidden(), 'nav hidden');
    assert.ok(await page.locator('#logout').isHidden(), 'logout hidden');
    for (const hash of ['#/', '#/tasks', '#/workers', '#/submit', '#/tasks/01a21d44c817-2cc88a19']) {
        await go(hash);
        await page.waitForURL(/#\/login$/);
        await page.waitForSelector('#login-form');
        assert.equal(await page.locator('#main > *').count(), 1, `${hash}: only the login form`);
        assert.equal(await page.locator('.task-row, .tile, .worker, .task-view, #submit-form').count(), 0);
    }
    const cookies = await context.cookies();
    assert.ok(!cookies.some((c) => c.name === 'cleudo_session'), 'no session cookie');
});

test('log in with the token', T, async () => {
    await go('#/tasks');                    // where the user wanted to go...
    await page.waitForURL(/#\/login$/);
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForURL(/#\/tasks$/);     // ...is where login leads
    await page.waitForSelector('table.tasks');
    assert.ok(await page.locator('#nav').isVisible());
    const cookie = (await context.cookies()).find((c) => c.name === 'cleudo_session');
    assert.ok(cookie, 'session cookie set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0,
                 'nothing in Web Storage');
    assert.equal(await page.evaluate(() => document.cookie.includes('cleudo_session')), false, 'HttpOnly');
    // The cookie alone does not let a page change anything: the CSRF token is needed.
    assert.equal(await page.evaluate(() => fetch('/api/tasks', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"argv":["true"]}',
    }).then((r) => r.status)), 403);

    // A reload keeps the session (the CSRF token comes back from GET /api/session).
    await page.goto(BASE + '/#/');
    await page.waitForSelector('.page-overview h1');
    await page.waitForSelector('.tile');
    await page.waitForSelector('svg.chart');
    assert.equal(await page.locator('.counts [data-count="succeeded"]').count(), 1);

    // Keyboard: the header's links and the logout button are tab stops.
    await page.focus('.brand');
    const stops = [];
    for (let i = 0; i < 5; i++) {
        await page.keyboard.press('Tab');
        stops.push(await page.evaluate(() => {
            const el = document.activeElement;
            const outline = getComputedStyle(el).outlineStyle;
            return (el.id === 'logout' ? 'logout' : el.getAttribute('href')) + (outline === 'solid' ? '' : ' (no focus ring)');
        }));
    }
    assert.deepEqual(stops, ['#/', '#/tasks', '#/submit', '#/workers', 'logout']);
    await shot('overview');
});

test('submit a task from the form and see it finish live', T, async () => {
    await markNoReload();
    await page.click('#nav a[href="#/submit"]');
    await page.waitForSelector('#submit-form');
    await shot('submit');
    // The API's validation error is shown with its field.
    await page.selectOption('#mode', 'sh');
    await page.fill('#code', 'echo never');
    await page.fill('#wall', '-1');
    await page.click('#submit');
    await page.waitForFunction(() => /limits\.wall_ms/.test(document.querySelector('#submit-error')?.textContent || ''));
    assert.equal(await page.getAttribute('#wall', 'aria-invalid'), 'true');
    assert.match(new URL(page.url()).hash, /^#\/submit$/);
    await page.fill('#wall', '');

    const id = await submitForm('sh', 'echo hello-from-browser ' + RUN);
    ids.hello = id;
    await badgeBecomes('succeeded');
    await page.waitForFunction(() => document.querySelector('#out-stdout')?.textContent.includes('hello-from-browser'));
    await assertNoReload();
    assert.match(await page.textContent('#exit'), /^0$/);
    assert.match(await page.textContent('pre.code'), /echo hello-from-browser/);
    assert.ok(await page.locator('table.timeline tbody tr').count() >= 2, 'timeline has events');
    assert.equal(await page.locator('#cancel').count(), 0, 'no cancel on a finished task');
    await shot('detail');
});

test('open the task from the tasks table', T, async () => {
    await page.click('#nav a[href="#/tasks"]');
    const row = page.locator(`tr.task-row[data-id="${ids.hello}"]`);
    await row.waitFor();
    assert.equal(await row.locator('.badge').getAttribute('data-status'), 'succeeded');
    await shot('tasks');
    await row.locator('a.task-link').click();
    await page.waitForURL(new RegExp('#/tasks/' + ids.hello + '$'));
    await page.waitForFunction((i) => document.querySelector('#task-id')?.textContent === i, ids.hello);
    await page.waitForFunction(() => document.querySelector('#out-stdout')?.textContent.includes('hello-from-browser'));
});

test('re-run a task from its detail page', T, async () => {
    await page.click('#rerun');
    await page.waitForURL((u) => /#\/tasks\/[^/]+$/.test(u.hash) && !u.hash.endsWith(ids.hello));
    const id = decodeURIComponent(new URL(page.url()).hash.split('/').pop());
    await page.waitForFunction((i) => document.querySelector('#task-id')?.textContent === i, id);
    await badgeBecomes('succeeded');
    await page.waitForFunction((r) => document.querySelector('#out-stdout')?.textContent === 'hello-from-browser ' + r + '\n', RUN);
    assert.equal(await page.textContent(`a[href="#/tasks/${ids.hello}"]`), ids.hello, 'links to the original');
});

test('output appears while the task runs', T, async () => {
    await markNoReload();
    const code = 'echo first-line; sleep 3; echo second-line >&2; cat; echo " $GREETING"';
    const id = await submitForm('bash', code, async () => {
        await page.fill('#stdin', 'third-line');
        await page.fill('#env', 'GREETING=hi there\nOTHER=1');
        await page.fill('#wall', '60');
        await page.fill('#mem', '256');
        await page.fill('#cpu', '5.5');
    });
    await page.waitForFunction(() => document.querySelector('#out-stdout')?.textContent.includes('first-line'));
    assert.ok(['queued', 'dispatched', 'running'].includes(await page.getAttribute('#task-status .badge', 'data-status')),
              'the first line is shown before the task ends');
    assert.equal(await page.locator('#cancel').count(), 1, 'cancel offered while running');
    await page.waitForFunction(() => /(running|waiting) for/.test(document.querySelector('#elapsed')?.textContent));
    await badgeBecomes('succeeded');
    await page.waitForFunction(() => document.querySelector('#out-stdout')?.textContent === 'first-line\nthird-line hi there\n');
    await page.waitForFunction(() => document.querySelector('#out-stderr')?.textContent === 'second-line\n');
    await assertNoReload();
    const { json } = await api('GET', '/api/tasks/' + id);
    assert.equal(json.stdout, 'first-line\nthird-line hi there\n');
    assert.deepEqual(json.task.limits, { wall_ms: 60000, memory_bytes: 256 * 1048576, cpu_ms: 5500 });
    assert.equal(json.task.lang, 'bash');
    assert.equal(json.task.stdin, 'third-line');
    // Env keys are listed; their values are not shown.
    const chips = await page.$$eval('.chips code', (els) => els.map((e) => e.textContent));
    assert.ok(chips.includes('GREETING') && chips.includes('OTHER'), String(chips));
    assert.ok(!(await page.textContent('#main')).includes('GREETING=hi'));
    assert.match(await page.textContent('pre.stdin'), /^third-line$/);
});

test('cancel a long task from its detail page', T, async () => {
    const id = await submitForm('sh', 'sleep 30');
    ids.sleep = id;
    await page.waitForSelector('#cancel');
    await page.waitForSelector('#task-status .badge[data-status="running"]', { timeout: 20_000 });
    await page.click('#cancel');
    await badgeBecomes('cancelled', 20_000);
    assert.equal(await page.locator('#cancel').count(), 0);
    assert.match(await page.textContent('#status-words'), /cancelled/);
    assert.equal(await page.textContent('#elapsed'), '');
    await page.waitForFunction(() => document.querySelector('.action-msg')?.textContent === 'Cancelled.');
    const { json } = await api('GET', '/api/tasks/' + id);
    assert.equal(json.status, 'cancelled');
    await shot('detail-cancelled');
});

test('output that looks like markup is shown as text and runs nothing', T, async () => {
    const code = "printf '%s\\n' '<img src=x onerror=alert(1)>' '</script><script>alert(2)</script>'";
    const id = await submitForm('sh', code);
    ids.xss = id;
    await badgeBecomes('succeeded');
    await page.waitForFunction(() => document.querySelector('#out-stdout')?.textContent.includes('alert(2)'));
    const text = await page.textContent('#out-stdout');
    assert.equal(text, '<img src=x onerror=alert(1)>\n</script><script>alert(2)</script>\n');
    assert.equal(await page.locator('#out-stdout *').count(), 0, 'no element inside the output');
    assert.equal(await page.evaluate(() => document.images.length), 1, 'only the logo is an image');
    assert.equal(await page.evaluate(() => document.scripts.length), 1, 'only app.js');
    await page.click('#nav a[href="#/tasks"]');
    await page.locator(`tr.task-row[data-id="${id}"]`).waitFor();
    assert.equal(await page.evaluate(() => document.images.length), 1);
    await page.waitForTimeout(300);
    assert.deepEqual(seen.dialogs, [], 'no dialog opened');
});

test('binary output, collected files and limits are explained', T, async () => {
    const made = await api('POST', '/api/tasks?wait=20', {
        lang: 'sh', code: "printf 'ok\\377\\376\\n'; mkdir -p 'out dir'; printf 'file-data\\n' > 'out dir/a b&c.txt';"
                          + " echo x > 'javascript:alert(3)'",
        collect: ['out dir/a b&c.txt', 'javascript:alert(3)'] });
    assert.equal(made.status, 200, made.text);
    const id = made.json.id;
    await go('#/tasks/' + id);
    await page.waitForSelector('.binary-note');
    assert.match(await page.textContent('.output-card[data-stream="stdout"] .binary-note'),
                 /not valid UTF-8; invalid bytes shown as \uFFFD/);
    await page.click('.output-card[data-stream="stdout"] .binary-note button');
    assert.match(await page.textContent('#out-stdout'), /6f 6b ff fe 0a/);
    await shot('detail-binary');
    // A file named like a URL is still a link to this API, never a script.
    assert.equal(await page.getAttribute('a.file-link[download="javascript:alert(3)"]', 'href'),
                 `/api/tasks/${encodeURIComponent(id)}/files/javascript%3Aalert(3)`);
    const link = page.locator('a.file-link[download="a b&c.txt"]');
    assert.equal(await link.count(), 1);
    assert.equal(await link.getAttribute('href'), `/api/tasks/${encodeURIComponent(id)}/files/out%20dir/a%20b%26c.txt`);
    assert.equal(await link.getAttribute('download'), 'a b&c.txt');
    const got = await page.evaluate((href) => fetch(href).then(async (r) => [r.status, await r.text()]),
                                    await link.getAttribute('href'));
    assert.deepEqual(got, [200, 'file-data\n']);
    const js = await page.evaluate((href) => fetch(href).then(async (r) => [r.status, await r.text()]),
                                   await page.getAttribute('a.file-link[download="javascript:alert(3)"]', 'href'));
    assert.deepEqual(js, [200, 'x\n']);

    const big = await api('POST', '/api/tasks?wait=20', {
        argv: ['sh', '-c', "head -c 100000 /dev/zero | tr '\\0' x"], limits: { output_bytes: 1000 } });
    assert.equal(big.json.stdout_truncated, true, big.text);
    await go('#/tasks/' + big.json.id);
    await page.waitForSelector('.output-card[data-stream="stdout"] .notice-warn');
    assert.equal(await page.textContent('.output-card[data-stream="stdout"] .notice-warn'), 'output truncated at the cap');
    assert.equal((await page.textContent('#out-stdout')).length, 1000);
    assert.equal(await page.locator('.output-card[data-stream="stderr"] .notice-warn').count(), 0);

    const slow = await api('POST', '/api/tasks?wait=20', { argv: ['sleep', '10'], limits: { wall_ms: 300 } });
    assert.equal(slow.json.status, 'timed_out', slow.text);
    await go('#/tasks/' + slow.json.id);
    await badgeBecomes('timed_out');
    assert.equal(await page.textContent('#status-words'), 'killed after the wall-clock limit');
});

test('the tasks table updates live', T, async () => {
    await page.click('#nav a[href="#/tasks"]');
    await page.waitForSelector('tr.task-row');
    await markNoReload();
    const made = await api('POST', '/api/tasks', { argv: ['sh', '-c', 'sleep 1; echo live-row'] });
    assert.equal(made.status, 201, made.text);
    const row = page.locator(`tr.task-row[data-id="${made.json.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('tr.task-row').first().getAttribute('data-id'), made.json.id, 'new row on top');
    await page.waitForSelector(`tr.task-row[data-id="${made.json.id}"] .badge[data-status="succeeded"]`,
                               { timeout: 30_000 });
    await page.waitForFunction((i) => document.querySelector(`tr[data-id="${i}"] .col-exit .exit`)?.textContent === '0',
                               made.json.id);
    await assertNoReload();

    // Filters: search, then a status, then clear.
    await page.fill('#q', 'hello-from-browser ' + RUN);
    await page.waitForFunction(([i, r]) => {       // the task and its re-run
        const rows = Array.from(document.querySelectorAll('tr.task-row'));
        return rows.length === 2 && rows.some((row) => row.getAttribute('data-id') === i)
            && rows.every((row) => row.querySelector('.summary').textContent.includes(r));
    }, [ids.hello, RUN]);
    await page.click('button:has-text("Clear filters")');
    await page.check('#f-cancelled');
    await page.waitForFunction((i) => {
        const rows = Array.from(document.querySelectorAll('tr.task-row'));
        return rows.length >= 1 && rows.every((r) => r.getAttribute('data-status') === 'cancelled')
            && rows.some((r) => r.getAttribute('data-id') === i);
    }, ids.sleep);
    assert.equal(new URL(page.url()).hash, '#/tasks?status=cancelled', 'the filter is in the address');
    await page.click('button:has-text("Clear filters")');
    await page.waitForFunction(() => document.querySelectorAll('tr.task-row').length >= 5);
    assert.equal(new URL(page.url()).hash, '#/tasks');

    // A filtered address opens filtered.
    await page.goto(BASE + '/#/tasks?status=succeeded,failed&q=' + encodeURIComponent('hello-from-browser ' + RUN));
    await page.waitForFunction(() => document.querySelectorAll('tr.task-row').length === 2);
    assert.equal(await page.isChecked('#f-succeeded'), true);
    assert.equal(await page.isChecked('#f-failed'), true);
    assert.equal(await page.isChecked('#f-cancelled'), false);
    assert.equal(await page.inputValue('#q'), 'hello-from-browser ' + RUN);
    await page.click('#nav a[href="#/tasks"]');
    await page.waitForFunction(() => document.querySelectorAll('tr.task-row').length >= 5);
    assert.equal(await page.inputValue('#q'), '');
});

test('paging through history with Older', T, async () => {
    // 55 small tasks: more than one page of 50.
    let last;
    for (let i = 0; i < 55; i++) {
        last = await api('POST', '/api/tasks', { argv: ['true'] });
        assert.equal(last.status, 201, last.text);
    }
    assert.equal((await api('GET', `/api/tasks/${last.json.id}?wait=20`)).json.status, 'succeeded');
    await go('#/');
    await page.click('#nav a[href="#/tasks"]');
    await page.waitForFunction(() => document.querySelectorAll('tr.task-row').length >= 50);
    assert.ok(await page.locator('#older').isVisible(), 'Older is offered');
    await page.click('#older');
    await page.waitForFunction(() => document.querySelectorAll('tr.task-row').length > 50);
    const all = await page.$$eval('tr.task-row', (rows) => rows.map((r) => r.getAttribute('data-id')));
    assert.equal(new Set(all).size, all.length, 'no row twice');
});

test('the workers page shows the worker and its isolation', T, async () => {
    await page.click('#nav a[href="#/workers"]');
    await page.waitForSelector('.worker');
    assert.equal(await page.locator('.worker').count(), 1);
    const { json } = await api('GET', '/api/workers');
    const iso = json.items[0].isolation;
    assert.ok(Object.keys(iso).length >= 1, 'the worker reports its isolation layers');
    for (const [layer, val] of Object.entries(iso)) {
        const on = val === true || (typeof val === 'number' && val > 0) || val === 'on';
        assert.equal(await page.getAttribute(`.worker .iso-badge[data-layer="${layer}"]`, 'data-on'), String(on),
                     `badge of ${layer} (${JSON.stringify(val)})`);
    }
    assert.match(await page.textContent('.worker'), /of 2 slots busy/);
    assert.match(await page.textContent('.worker .rel'), /ago|just now/);
    await shot('workers');
});

test('unknown pages and tasks say so', T, async () => {
    await go('#/nope');
    await page.waitForFunction(() => document.querySelector('#main h1')?.textContent === 'Not found');
    await go('#/tasks/01a21d44c817-00000000');
    await page.waitForFunction(() => document.querySelector('#main h1')?.textContent === 'Task not found');
    assert.match(await page.textContent('#main .notice-error'), /No task with id \u201c01a21d44c817-00000000\u201d/);
});

test('the overview follows events without a reload', T, async () => {
    await page.click('#nav a[href="#/"]');
    const cell = '.counts [data-count="succeeded"]';
    await page.waitForSelector(cell);
    await markNoReload();
    const before = Number(await page.textContent(cell));
    const r = await api('POST', '/api/tasks?wait=20', { argv: ['true'] });
    assert.equal(r.json.status, 'succeeded', r.text);
    await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel)?.textContent) > n, [cell, before],
                               { timeout: 8000 });
    await assertNoReload();
});

test('every page works 375 px wide', T, async () => {
    await page.setViewportSize(PHONE);
    const pages = [['overview', '#/', '.tile'], ['tasks', '#/tasks', 'tr.task-row'],
                   ['detail', '#/tasks/' + ids.xss, '#out-stdout'], ['submit', '#/submit', '#submit-form'],
                   ['workers', '#/workers', '.worker']];
    for (const [name, hash, sel] of pages) {
        await go(hash);
        await page.waitForSelector(sel);
        await page.waitForTimeout(100);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= PHONE.width, `${name}: page is ${width}px wide at ${PHONE.width}px`);
        const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')));
        for (const href of hrefs)
            assert.match(href, /^(#\/|\/api\/|blob:)/, `${name}: link ${href}`);
        const text = await page.evaluate(() => document.querySelector('#main').innerText);
        assert.doesNotMatch(text, /\b(null|undefined|NaN)\b|\[object /, `${name}: no placeholder leaked`);
        await shot('phone-' + name);
    }
    await page.setViewportSize(DESKTOP);
});

test('log out: back to the login page, and the API says 401', T, async () => {
    await page.click('#logout');
    await page.waitForURL(/#\/login$/);
    await page.waitForSelector('#login-form');
    assert.ok(await page.locator('#nav').isHidden());
    assert.equal(await page.evaluate(() => fetch('/api/tasks').then((r) => r.status)), 401);
    assert.equal(await page.evaluate(() => fetch('/api/session').then((r) => r.status)), 401);
    await go('#/tasks');
    await page.waitForURL(/#\/login$/);
    await page.setViewportSize(PHONE);
    await page.waitForSelector('#login-form');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `login: ${width}px wide`);
    await shot('phone-login');
    await page.setViewportSize(DESKTOP);
});

test('no JS error, CSP violation, dialog or request to another host', T, async () => {
    assert.deepEqual(seen.pageErrors, [], 'page errors');
    assert.deepEqual(seen.console, [], 'console errors');
    assert.deepEqual(seen.dialogs, [], 'dialogs');
    assert.deepEqual(seen.foreign, [], 'requests to other hosts');
});
