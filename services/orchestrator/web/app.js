/*  app.js - the orchestrator's dashboard: one page, hash routes, no framework.
 *
 *  Served as /assets/app.js under a strict Content-Security-Policy (no inline
 *  script or style, connect-src 'self'). Everything that comes from a task or
 *  from the API reaches the page through textContent, createTextNode or
 *  setAttribute only: a task's output is data, never markup.
 *
 *  Authentication is the session cookie (HttpOnly, SameSite=Strict) that
 *  POST /api/session sets; the CSRF token it returns lives in `state.csrf`
 *  and nowhere else (no Web Storage), so a reload asks GET /api/session again.
 */
'use strict';

(() => {

// ---- constants ------------------------------------------------------------

const STATUSES = ['queued', 'dispatched', 'running', 'succeeded', 'failed', 'timed_out',
    'memory_limit', 'output_limit', 'cancelled', 'rejected', 'lost', 'internal_error'];
const TERMINAL = new Set(STATUSES.slice(3).concat(['killed']));

// What each status means, in words (the detail page shows it under the badge).
const STATUS_TEXT = {
    queued: 'waiting for a free worker slot',
    dispatched: 'sent to a worker, not started yet',
    running: 'running in the sandbox',
    succeeded: 'finished with exit code 0',
    failed: 'finished with a non-zero exit code or was killed by a signal',
    timed_out: 'killed after the wall-clock limit',
    memory_limit: 'killed after going over the memory limit',
    output_limit: 'stopped after going over the output limit',
    cancelled: 'cancelled on request',
    rejected: 'refused by the worker before it ran',
    lost: 'the worker went away and the task could not be finished',
    internal_error: 'the sandbox failed to set the task up (not the program\u2019s fault)',
    killed: 'killed by a signal',
};

const SIGNALS = {
    1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT',
    7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2',
    13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ', 31: 'SIGSYS',
};

const PAGE_SIZE = 50;

// ---- state ----------------------------------------------------------------

const state = {
    csrf: null,             // CSRF token of the cookie session; memory only
    next: '#/',             // where to go after logging in
    events: null,           // the /api/events EventSource while logged in
    eventsRetry: 0,         // reconnect attempts since the last open
    eventsTimer: 0,         // pending reconnect
    listeners: new Map(),   // event type -> Set of callbacks
    cleanup: [],            // tear-down functions of the page on screen
    routeSeq: 0,            // bumped on every navigation; stale renders stop
    filter: { statuses: new Set(), q: '' },     // the tasks page's filter
};

// ---- DOM building -----------------------------------------------------------

const SVGNS = 'http://www.w3.org/2000/svg';
const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden']);

function append(el, kids) {
    for (const kid of kids.flat(Infinity)) {
        if (kid === null || kid === undefined || kid === false)
            continue;
        el.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
}

// h('a', {class: 'x', href: '#/', onclick: f, text: 'hi'}, ...children)
function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [key, val] of Object.entries(props || {})) {
        if (val === null || val === undefined || val === false)
            continue;
        if (key === 'class')
            el.className = val;
        else if (key === 'text')
            el.textContent = String(val);
        else if (key.startsWith('on'))
            el.addEventListener(key.slice(2), val);
        else if (PROPS.has(key))
            el[key] = val;
        else if (key === 'href')
            el.setAttribute('href', safeHref(val));
        else
            el.setAttribute(key, val === true ? '' : String(val));
    }
    return append(el, kids);
}

function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [key, val] of Object.entries(attrs || {}))
        el.setAttribute(key, String(val));
    return append(el, kids);
}

// Links go to our own routes, our own API or a blob we made: never anywhere
// else, never javascript:.
function safeHref(href) {
    href = String(href);
    if (href.startsWith('#/') || href.startsWith('/api/') || href.startsWith('blob:'))
        return href;
    throw new Error('refusing link ' + JSON.stringify(href));
}

const $ = (sel, root) => (root || document).querySelector(sel);

function taskHref(id) {
    return '#/tasks/' + encodeURIComponent(id);
}

function apiTask(id, rest) {
    return '/api/tasks/' + encodeURIComponent(id) + (rest || '');
}

// ---- formatting -------------------------------------------------------------

const pad = (n, w) => String(n).padStart(w || 2, '0');

function fmtTime(ms) {
    if (typeof ms !== 'number')
        return '\u2014';
    const d = new Date(ms);
    const now = new Date();
    const hms = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    if (d.toDateString() === now.toDateString())
        return hms;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + hms;
}

function timeEl(ms) {
    if (typeof ms !== 'number')
        return h('span', { class: 'muted', text: '\u2014' });
    return h('time', { datetime: new Date(ms).toISOString(), title: new Date(ms).toISOString(),
                       text: fmtTime(ms) });
}

function fmtDur(ms) {
    if (typeof ms !== 'number' || !isFinite(ms))
        return '\u2014';
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        return Math.round(ms) + ' ms';
    if (ms < 60000)
        return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
    const m = Math.floor(ms / 60000), sec = Math.round((ms % 60000) / 1000);
    if (m < 60)
        return m + ' min ' + sec + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

function fmtAgo(ms) {
    if (typeof ms !== 'number')
        return 'never';
    const d = Date.now() - ms;
    if (d < 2000)
        return 'just now';
    if (d < 60000)
        return Math.round(d / 1000) + ' s ago';
    if (d < 3600000)
        return Math.round(d / 60000) + ' min ago';
    if (d < 86400000)
        return Math.round(d / 3600000) + ' h ago';
    return fmtTime(ms);
}

function fmtBytes(n) {
    if (typeof n !== 'number')
        return '\u2014';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 || Number.isInteger(n) ? String(n) : n.toFixed(1)) + ' ' + units[i];
}

function signalName(sig) {
    return SIGNALS[sig] ? sig + ' (' + SIGNALS[sig] + ')' : String(sig);
}

function exitText(rec) {
    if (typeof rec.exit_code === 'number')
        return String(rec.exit_code);
    if (typeof rec.signal === 'number')
        return 'signal ' + signalName(rec.signal);
    return '\u2014';
}

function durationOf(rec) {
    if (typeof rec.wall_ms === 'number')
        return rec.wall_ms;
    if (typeof rec.started_ms === 'number' && typeof rec.finished_ms === 'number')
        return rec.finished_ms - rec.started_ms;
    return null;
}

function explain(rec) {
    if (rec.status === 'failed') {
        if (typeof rec.exit_code === 'number')
            return 'finished with exit code ' + rec.exit_code;
        if (typeof rec.signal === 'number')
            return 'killed by signal ' + signalName(rec.signal);
    }
    if (rec.status === 'succeeded')
        return STATUS_TEXT.succeeded;
    return STATUS_TEXT[rec.status] || 'status ' + rec.status;
}

function badge(status) {
    const known = STATUS_TEXT[status] ? status : 'unknown';
    return h('span', { class: 'badge st-' + known, 'data-status': status,
                       text: String(status).replace(/_/g, ' ') });
}

function b64bytes(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++)
        out[i] = bin.charCodeAt(i);
    return out;
}

function hexDump(bytes) {
    const lines = [];
    for (let off = 0; off < bytes.length; off += 16) {
        const row = bytes.subarray(off, off + 16);
        const hex = Array.from(row, (b) => pad(b.toString(16), 2)).join(' ');
        const asc = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
        lines.push(pad(off.toString(16), 8) + '  ' + hex.padEnd(47) + '  ' + asc);
    }
    return lines.join('\n');
}

function debounce(fn, ms) {
    let t = 0;
    return (...args) => {
        clearTimeout(t);
        t = setTimeout(() => fn(...args), ms);
    };
}

// ---- the API ------------------------------------------------------------------

class ApiError extends Error {
    constructor(status, body, fallback) {
        const err = (body && body.error) || {};
        super(err.message || fallback || ('HTTP ' + status));
        this.status = status;
        this.code = err.code || null;
        this.field = err.field || null;
    }
}

async function api(method, path, body, opts) {
    opts = opts || {};
    const init = { method, credentials: 'same-origin', cache: 'no-store',
                   headers: { Accept: 'application/json' } };
    if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers['Content-Type'] = 'application/json';
    }
    if (method !== 'GET' && state.csrf)
        init.headers['X-CSRF-Token'] = state.csrf;
    let res;
    try {
        res = await fetch(path, init);
    } catch (e) {
        throw new ApiError(0, null, 'cannot reach the orchestrator');
    }
    let data = null;
    if ((res.headers.get('Content-Type') || '').includes('json')) {
        try {
            data = await res.json();
        } catch (e) {
            data = null;
        }
    }
    if (res.status === 401 && !opts.quiet401) {
        sessionLost();
        throw new ApiError(401, data, 'not logged in');
    }
    if (!res.ok)
        throw new ApiError(res.status, data);
    return { status: res.status, data };
}

// ---- session ----------------------------------------------------------------

async function checkSession() {
    if (state.csrf)
        return true;
    try {
        const { data } = await api('GET', '/api/session', undefined, { quiet401: true });
        state.csrf = data.csrf;
        return true;
    } catch (e) {
        if (e.status === 401)
            return false;
        throw e;
    }
}

function sessionLost() {
    state.csrf = null;
    stopEvents();
    if (!location.hash.startsWith('#/login')) {
        state.next = location.hash || '#/';
        location.replace('#/login');
    }
}

async function logout() {
    try {
        await api('DELETE', '/api/session', undefined, { quiet401: true });
    } catch (e) {
        // Logged out already, or the server is gone: forget the session anyway.
    }
    state.csrf = null;
    state.next = '#/';
    stopEvents();
    location.hash = '#/login';
}

// ---- events: /api/events, shared by every page ------------------------------

function on(type, fn) {
    if (!state.listeners.has(type))
        state.listeners.set(type, new Set());
    state.listeners.get(type).add(fn);
    return () => state.listeners.get(type).delete(fn);
}

function emit(type, data) {
    for (const fn of Array.from(state.listeners.get(type) || [])) {
        try {
            fn(data);
        } catch (e) {
            console.warn('listener failed', e);
        }
    }
}

function setLive(text, cls) {
    const el = $('#live');
    if (!el)
        return;
    el.textContent = text;
    el.className = 'live ' + cls;
}

function startEvents() {
    if (state.events || !state.csrf || typeof EventSource === 'undefined')
        return;
    clearTimeout(state.eventsTimer);
    const es = new EventSource('/api/events');
    state.events = es;
    setLive('connecting\u2026', 'live-wait');
    es.addEventListener('open', () => {
        state.eventsRetry = 0;
        setLive('live', 'live-on');
    });
    for (const type of ['task', 'worker']) {
        es.addEventListener(type, (ev) => {
            let data;
            try {
                data = JSON.parse(ev.data);
            } catch (e) {
                return;
            }
            if (data && typeof data === 'object')
                emit(type, data);
        });
    }
    es.addEventListener('reset', () => emit('reset', {}));
    es.addEventListener('error', () => {
        if (state.events !== es)
            return;
        if (es.readyState !== EventSource.CLOSED) {
            setLive('reconnecting\u2026', 'live-wait');     // EventSource retries by itself
            return;
        }
        // Refused (not a stream: logged out, or the server is restarting):
        // check the session, then try again with a growing pause.
        es.close();
        state.events = null;
        setLive('offline', 'live-off');
        const delay = Math.min(30000, 1000 * 2 ** state.eventsRetry++);
        state.eventsTimer = setTimeout(async () => {
            if (!state.csrf)
                return;
            try {
                await api('GET', '/api/session');
                startEvents();
                emit('reset', {});
            } catch (e) {
                if (state.csrf)
                    state.eventsTimer = setTimeout(() => startEvents(), delay);
            }
        }, delay);
    });
}

function stopEvents() {
    clearTimeout(state.eventsTimer);
    if (state.events) {
        state.events.close();
        state.events = null;
    }
    setLive('', 'live-off');
}

// ---- router -------------------------------------------------------------------

function parseRoute() {
    const [rawPath, query] = (location.hash || '#/').slice(1).split('?');
    const path = rawPath || '/';
    if (path === '/login')
        return { name: 'login' };
    if (path === '/')
        return { name: 'overview', nav: '#/' };
    if (path === '/tasks')
        return { name: 'tasks', nav: '#/tasks', query: query || '' };
    const m = /^\/tasks\/([^/]+)$/.exec(path);
    if (m) {
        try {
            return { name: 'task', nav: '#/tasks', id: decodeURIComponent(m[1]) };
        } catch (e) {
            return { name: 'notfound' };
        }
    }
    if (path === '/submit')
        return { name: 'submit', nav: '#/submit' };
    if (path === '/workers')
        return { name: 'workers', nav: '#/workers' };
    return { name: 'notfound' };
}

const PAGES = {
    login: pageLogin, overview: pageOverview, tasks: pageTasks, task: pageTask,
    submit: pageSubmit, workers: pageWorkers, notfound: pageNotFound,
};

function teardown() {
    for (const fn of state.cleanup.splice(0))
        try {
            fn();
        } catch (e) {
            console.warn('cleanup failed', e);
        }
}

function showChrome(loggedIn, navHref) {
    $('#nav').hidden = !loggedIn;
    $('#logout').hidden = !loggedIn;
    $('#live').hidden = !loggedIn;
    for (const a of document.querySelectorAll('#nav a')) {
        if (a.getAttribute('href') === navHref)
            a.setAttribute('aria-current', 'page');
        else
            a.removeAttribute('aria-current');
    }
}

async function route() {
    const seq = ++state.routeSeq;
    teardown();
    const r = parseRoute();
    const main = $('#main');
    if (r.name !== 'login') {
        let ok;
        try {
            ok = await checkSession();
        } catch (e) {
            if (seq !== state.routeSeq)
                return;
            showChrome(false);
            main.replaceChildren(h('h1', { text: 'Dashboard unavailable' }),
                                 notice('error', e.message),
                                 h('p', {}, h('button', { type: 'button', class: 'btn',
                                                          onclick: () => route(), text: 'Try again' })));
            return;
        }
        if (seq !== state.routeSeq)
            return;
        if (!ok) {
            state.next = location.hash || '#/';
            location.replace('#/login');
            return;
        }
        startEvents();
    } else if (state.csrf) {
        location.replace('#/');
        return;
    }
    showChrome(r.name !== 'login', r.nav);
    const ctx = {
        seq,
        stale: () => seq !== state.routeSeq,
        cleanup: (fn) => state.cleanup.push(fn),
        on: (type, fn) => state.cleanup.push(on(type, fn)),
        every: (ms, fn) => {
            const t = setInterval(fn, ms);
            state.cleanup.push(() => clearInterval(t));
        },
    };
    main.replaceChildren();
    main.className = 'page page-' + r.name;
    try {
        await PAGES[r.name](main, ctx, r);
    } catch (e) {
        if (ctx.stale() || e.status === 401)
            return;
        main.append(notice('error', e.message));
    }
}

// ---- small shared pieces ----------------------------------------------------

function notice(kind, text) {
    return h('p', { class: 'notice notice-' + kind, role: kind === 'error' ? 'alert' : null, text });
}

function pageTitle(text, ...extra) {
    document.title = text + ' \u00b7 CleudoCode';
    return h('div', { class: 'page-head' }, h('h1', { text }), ...extra);
}

function dl(pairs) {
    const el = h('dl', { class: 'facts' });
    for (const [k, v] of pairs) {
        if (v === null || v === undefined)
            continue;
        el.append(h('div', { class: 'fact' }, h('dt', { text: k }), h('dd', {}, v)));
    }
    return el;
}

function card(title, ...kids) {
    return h('section', { class: 'card' }, title ? h('h2', { text: title }) : null, ...kids);
}

// ---- login --------------------------------------------------------------------

async function pageLogin(main) {
    document.title = 'Log in \u00b7 CleudoCode';
    const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password',
                               spellcheck: 'false', required: true });
    const err = h('p', { id: 'login-error', class: 'form-error', role: 'alert' });
    const button = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Log in' });
    const form = h('form', { class: 'login card', id: 'login-form', novalidate: true },
        h('h1', { text: 'Log in' }),
        h('p', { class: 'muted', text: 'Paste the orchestrator\u2019s API token (ORCH_API_TOKEN, or data/token).' }),
        h('label', { for: 'token', text: 'API token' }), input, err,
        h('div', { class: 'actions' }, button));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        err.textContent = '';
        const token = input.value.trim();
        if (!token) {
            err.textContent = 'enter the API token';
            input.focus();
            return;
        }
        button.disabled = true;
        try {
            const { data } = await api('POST', '/api/session', { token }, { quiet401: true });
            state.csrf = data.csrf;
            input.value = '';
            const next = state.next && !state.next.startsWith('#/login') ? state.next : '#/';
            state.next = '#/';
            location.hash = next;
        } catch (e) {
            err.textContent = e.status === 401 ? 'wrong token' : e.message;
            input.select();
        } finally {
            button.disabled = false;
        }
    });
    main.append(form);
    input.focus();
}

// ---- overview -------------------------------------------------------------------

const PAD_L = 34, PAD_R = 8, PAD_T = 10, PAD_B = 22;

function niceMax(v) {
    if (v <= 4)
        return 4;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10])
        if (m * p >= v)
            return m * p;
    return v;
}

// One chart of per-minute buckets: bars for `bars`, a line for `line`.
function chart(label, buckets, bucketMs, series) {
    // A narrower drawing on a phone keeps the axis labels readable.
    const narrow = window.matchMedia('(max-width: 640px)').matches;
    const CHART_W = narrow ? 360 : 600, CHART_H = narrow ? 190 : 170;
    const n = buckets.length;
    const vals = (key) => buckets.map((b) => (typeof b[key] === 'number' ? b[key] : 0));
    let max = 0;
    for (const sr of series)
        max = Math.max(max, ...vals(sr.key));
    max = niceMax(max);
    const iw = CHART_W - PAD_L - PAD_R, ih = CHART_H - PAD_T - PAD_B;
    const x = (i) => PAD_L + (n ? (i * iw) / n : 0);
    const y = (v) => PAD_T + ih - (v * ih) / max;
    const svg = s('svg', { class: 'chart', viewBox: `0 0 ${CHART_W} ${CHART_H}`, role: 'img',
                           'aria-label': label },
        s('title', {}, label));
    for (const v of [0, max / 2, max]) {
        svg.append(s('line', { class: 'grid', x1: PAD_L, x2: CHART_W - PAD_R, y1: y(v), y2: y(v) }),
                   s('text', { class: 'axis', x: PAD_L - 4, y: y(v) + 4, 'text-anchor': 'end' },
                     Number.isInteger(v) ? String(v) : v.toFixed(1)));
    }
    const minutes = Math.round((n * (bucketMs || 60000)) / 60000);
    svg.append(s('text', { class: 'axis', x: PAD_L, y: CHART_H - 6 }, '\u2212' + minutes + ' min'),
               s('text', { class: 'axis', x: PAD_L + iw / 2, y: CHART_H - 6, 'text-anchor': 'middle' },
                 '\u2212' + Math.round(minutes / 2) + ' min'),
               s('text', { class: 'axis', x: CHART_W - PAD_R, y: CHART_H - 6, 'text-anchor': 'end' }, 'now'));
    for (const sr of series) {
        const v = vals(sr.key);
        if (sr.kind === 'bars') {
            const bw = n ? iw / n : 0;
            v.forEach((val, i) => {
                if (!val)
                    return;
                const at = typeof buckets[i].start_ms === 'number' ? fmtTime(buckets[i].start_ms) + ': ' : '';
                svg.append(s('rect', { class: 'bar ' + sr.cls, x: x(i) + 0.5, y: y(val),
                                       width: Math.max(1, bw - 1), height: Math.max(0, y(0) - y(val)) },
                             s('title', {}, at + val + ' ' + sr.label)));
            });
        } else {
            const pts = v.map((val, i) => `${(x(i) + x(i + 1)) / 2},${y(val)}`);
            if (pts.length) {
                const first = (x(0) + x(1)) / 2, last = (x(n - 1) + x(n)) / 2;
                svg.append(s('path', { class: 'area ' + sr.cls,
                                       d: `M${first},${y(0)} L${pts.join(' L')} L${last},${y(0)} Z` }),
                           s('polyline', { class: 'line ' + sr.cls, points: pts.join(' ') }));
            }
        }
    }
    const legend = h('ul', { class: 'legend' },
        series.map((sr) => h('li', {}, h('span', { class: 'swatch ' + sr.cls }), sr.label)));
    return h('figure', { class: 'chart-box' }, svg, legend);
}

function statTile(label, value, sub) {
    return h('div', { class: 'tile' }, h('div', { class: 'tile-label', text: label }),
             h('div', { class: 'tile-value', text: String(value) }),
             sub ? h('div', { class: 'tile-sub', text: sub }) : null);
}

function taskMiniList(items) {
    if (!items.length)
        return h('p', { class: 'muted' }, 'No tasks yet. ', h('a', { href: '#/submit', text: 'Submit one' }), '.');
    return h('ul', { class: 'mini-list' }, items.map((t) => h('li', {},
        badge(t.status), ' ', h('a', { href: taskHref(t.id), class: 'mono', text: t.id }), ' ',
        h('span', { class: 'summary', text: t.summary || '' }),
        h('span', { class: 'muted right', text: fmtAgo(t.created_ms) }))));
}

async function pageOverview(main, ctx) {
    main.append(pageTitle('Overview'));
    const body = h('div', { class: 'overview' }, h('p', { class: 'muted', text: 'Loading\u2026' }));
    main.append(body);
    let busy = false;
    let last = null;            // the latest [stats, recent], drawn again when the width class changes
    const mq = window.matchMedia('(max-width: 640px)');
    const redraw = () => {
        if (last && !ctx.stale())
            body.replaceChildren(...renderStats(...last));
    };
    mq.addEventListener('change', redraw);
    ctx.cleanup(() => mq.removeEventListener('change', redraw));
    const load = async () => {
        if (busy)
            return;
        busy = true;
        try {
            const [stats, recent] = await Promise.all([
                api('GET', '/api/stats').then((r) => r.data),
                api('GET', '/api/tasks?limit=8').then((r) => r.data).catch(() => null),
            ]);
            last = [stats, recent];
            redraw();
        } catch (e) {
            if (!ctx.stale() && e.status !== 401)
                body.replaceChildren(notice('error', 'Statistics unavailable: ' + e.message));
        } finally {
            busy = false;
        }
    };
    await load();
    ctx.every(10000, load);
    const soon = debounce(load, 1000);
    ctx.on('task', soon);
    ctx.on('worker', soon);
    ctx.on('reset', soon);
}

function renderStats(st, recent) {
    const counts = st.counts || {};
    const total = Object.values(counts).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
    const lat = st.latency_ms || {};
    const tiles = h('div', { class: 'tiles' },
        statTile('Queue depth', st.queue_depth ?? 0, 'tasks waiting'),
        statTile('In flight', st.in_flight ?? 0, 'dispatched or running'),
        statTile('Workers online', st.workers ?? 0, (st.slots ?? 0) + ' slots'),
        statTile('Tasks', total, 'in the store'));
    const countList = h('ul', { class: 'counts' });
    for (const status of STATUSES) {
        const c = counts[status] || 0;
        countList.append(h('li', { class: c ? '' : 'zero' }, badge(status),
                           h('span', { class: 'count', 'data-count': status, text: String(c) })));
    }
    for (const [status, c] of Object.entries(counts))
        if (!STATUSES.includes(status))
            countList.append(h('li', { class: c ? '' : 'zero' }, badge(status),
                               h('span', { class: 'count', 'data-count': status, text: String(c) })));
    const buckets = Array.isArray(st.buckets) ? st.buckets : [];
    const charts = buckets.length
        ? [chart('Tasks finished and accepted per minute, last hour', buckets, st.bucket_ms, [
              { key: 'finished', kind: 'bars', cls: 's-finished', label: 'finished per minute' },
              { key: 'accepted', kind: 'line', cls: 's-accepted', label: 'accepted per minute' }]),
           chart('Queue depth (largest per minute), last hour', buckets, st.bucket_ms, [
              { key: 'queue_depth', kind: 'line', cls: 's-queue', label: 'queue depth' }])]
        : [h('p', { class: 'muted', text: 'No history yet.' })];
    const latency = dl([['p50', fmtDur(lat.p50)], ['p90', fmtDur(lat.p90)], ['p99', fmtDur(lat.p99)],
                        ['max', fmtDur(lat.max)], ['tasks', String(lat.count ?? 0)]]);
    latency.classList.add('latency');
    return [
        tiles,
        h('div', { class: 'grid-2' },
          card('Throughput', charts[0]),
          card('Queue depth', charts[1] || null)),
        h('div', { class: 'grid-2' },
          card('By status', countList),
          card('Latency, accept to finish (last hour)', latency)),
        recent ? card('Recent tasks', taskMiniList(recent.items || []),
                      h('p', {}, h('a', { href: '#/tasks', text: 'All tasks \u2192' }))) : null,
    ];
}

// ---- tasks ----------------------------------------------------------------------

function summaryOf(rec) {
    const out = {};
    for (const k of ['id', 'status', 'attempt', 'worker', 'created_ms', 'dispatched_ms', 'started_ms',
                     'finished_ms', 'summary', 'exit_code', 'signal', 'wall_ms', 'error', 'rerun_of'])
        if (k in rec)
            out[k] = rec[k];
    return out;
}

// Whether a task event tells more than the record we show: a terminal
// status is final, and an event older than what the record knows is stale
// (events and fetched records race each other).
function eventIsNews(rec, ev) {
    if (TERMINAL.has(rec.status))
        return false;
    let known = 0;
    for (const k of ['created_ms', 'dispatched_ms', 'started_ms', 'finished_ms', 'seen_ms'])
        if (typeof rec[k] === 'number' && rec[k] > known)
            known = rec[k];
    return typeof ev.at_ms !== 'number' || ev.at_ms >= known;
}

function taskRow(rec) {
    const tr = h('tr', { class: 'task-row', 'data-id': rec.id, 'data-status': rec.status });
    fillRow(tr, rec);
    return tr;
}

function fillRow(tr, rec) {
    tr.setAttribute('data-status', rec.status);
    const dur = durationOf(rec);
    tr.replaceChildren(
        h('td', { class: 'col-id' }, h('a', { href: taskHref(rec.id), class: 'mono task-link', text: rec.id })),
        h('td', { class: 'col-status' }, badge(rec.status)),
        h('td', { class: 'col-summary' }, h('span', { class: 'summary', title: rec.summary || '',
                                                      text: rec.summary || '' })),
        h('td', { class: 'col-created', 'data-label': 'created' }, timeEl(rec.created_ms)),
        h('td', { class: 'col-duration num', 'data-label': 'took' },
          dur !== null ? fmtDur(dur) : (TERMINAL.has(rec.status) ? '\u2014'
                                        : h('span', { class: 'muted', text: 'running\u2026' }))),
        h('td', { class: 'col-exit num', 'data-label': 'exit' }, h('span', { class: 'exit', text: exitText(rec) })));
}

function filterQuery(cursor) {
    const p = new URLSearchParams();
    p.set('limit', String(PAGE_SIZE));
    if (state.filter.statuses.size)
        p.set('status', Array.from(state.filter.statuses).join(','));
    if (state.filter.q)
        p.set('q', state.filter.q);
    if (cursor)
        p.set('cursor', cursor);
    return '/api/tasks?' + p.toString();
}

function matchesFilter(ev) {
    if (state.filter.statuses.size && !state.filter.statuses.has(ev.status))
        return false;
    const q = state.filter.q.toLowerCase();
    return !q || String(ev.summary || '').toLowerCase().includes(q) || String(ev.id).includes(q);
}

// The filter lives in the address (#/tasks?status=failed,timed_out&q=make),
// so that a filtered list can be bookmarked, shared and gone back to.
function filterFromQuery(query) {
    const p = new URLSearchParams(query);
    const statuses = p.getAll('status').join(',').split(',').filter((st) => STATUSES.includes(st));
    state.filter.statuses = new Set(statuses);
    state.filter.q = (p.get('q') || '').trim();
}

function filterToHash() {
    const p = new URLSearchParams();
    const statuses = STATUSES.filter((st) => state.filter.statuses.has(st));
    if (statuses.length)
        p.set('status', statuses.join(','));
    if (state.filter.q)
        p.set('q', state.filter.q);
    const qs = p.toString();
    const hash = '#/tasks' + (qs ? '?' + qs : '');
    if (location.hash !== hash)
        history.replaceState(null, '', hash);     // no hashchange: the page stays
}

async function pageTasks(main, ctx, r) {
    filterFromQuery(r.query);
    main.append(pageTitle('Tasks', h('a', { class: 'btn btn-primary', href: '#/submit', text: 'New task' })));
    const rows = new Map();     // id -> {tr, rec}
    let next = null;
    let loadSeq = 0;

    const tbody = h('tbody', { id: 'task-rows' });
    const empty = h('p', { class: 'muted empty', hidden: true, text: 'No tasks match.' });
    const status = h('p', { class: 'muted small', 'aria-live': 'polite' });
    const older = h('button', { type: 'button', class: 'btn', id: 'older', hidden: true, text: 'Older' });
    const errBox = h('div');

    // Filters
    const boxes = STATUSES.map((st) => {
        const id = 'f-' + st;
        return h('label', { class: 'check', for: id },
                 h('input', { type: 'checkbox', id, value: st, checked: state.filter.statuses.has(st),
                              onchange: (ev) => {
                                  if (ev.target.checked)
                                      state.filter.statuses.add(st);
                                  else
                                      state.filter.statuses.delete(st);
                                  reload();
                              } }),
                 badge(st));
    });
    const search = h('input', { type: 'search', id: 'q', name: 'q', value: state.filter.q,
                                placeholder: 'argv, code or summary', autocomplete: 'off' });
    const onSearch = debounce(() => {
        state.filter.q = search.value.trim();
        reload();
    }, 300);
    search.addEventListener('input', onSearch);
    const clear = h('button', { type: 'button', class: 'btn btn-small', text: 'Clear filters',
                                onclick: () => {
                                    state.filter.statuses.clear();
                                    state.filter.q = '';
                                    search.value = '';
                                    for (const b of document.querySelectorAll('.filters input[type=checkbox]'))
                                        b.checked = false;
                                    reload();
                                } });
    main.append(h('form', { class: 'filters card', role: 'search', onsubmit: (ev) => ev.preventDefault() },
        h('div', { class: 'search-row' }, h('label', { for: 'q', text: 'Search' }), search, clear),
        h('fieldset', { class: 'status-filter' }, h('legend', { text: 'Status' }), boxes)));

    const table = h('table', { class: 'tasks' },
        h('caption', { class: 'sr-only', text: 'Tasks, newest first' }),
        h('thead', {}, h('tr', {}, ['ID', 'Status', 'Summary', 'Created', 'Duration', 'Exit'].map(
            (t, i) => h('th', { scope: 'col', class: i >= 4 ? 'num' : null, text: t })))),
        tbody);
    main.append(errBox, h('div', { class: 'table-wrap card' }, table), empty,
                h('div', { class: 'pager' }, older, status));

    function updateCounts() {
        empty.hidden = rows.size > 0;
        status.textContent = rows.size + (rows.size === 1 ? ' task' : ' tasks') + ' shown'
                             + (next ? '; more with \u201cOlder\u201d' : '');
        older.hidden = !next;
    }

    function addRows(items, atTop) {
        const frag = document.createDocumentFragment();
        for (const rec of items) {
            if (rows.has(rec.id))
                continue;
            const tr = taskRow(rec);
            rows.set(rec.id, { tr, rec });
            frag.append(tr);
        }
        if (atTop)
            tbody.prepend(frag);
        else
            tbody.append(frag);
    }

    // Events that come while the first page loads are applied after it, so
    // that the fresh list does not wipe them out.
    let early = null;
    async function load(cursor) {
        const mine = ++loadSeq;
        if (!cursor && !early)
            early = [];
        let data;
        try {
            data = (await api('GET', filterQuery(cursor))).data;
        } finally {
            if (!cursor && mine === loadSeq && !ctx.stale()) {
                const missed = early || [];
                early = null;
                setTimeout(() => missed.forEach(onTaskEvent), 0);
            }
        }
        if (ctx.stale() || mine !== loadSeq)
            return;
        if (!cursor) {
            rows.clear();
            tbody.replaceChildren();
        }
        errBox.replaceChildren();
        addRows(data.items || [], false);
        next = data.next || null;
        updateCounts();
    }

    async function reload() {
        filterToHash();
        try {
            await load(null);
        } catch (e) {
            if (!ctx.stale() && e.status !== 401)
                errBox.replaceChildren(notice('error', e.message));
        }
    }

    older.addEventListener('click', async () => {
        older.disabled = true;
        try {
            await load(next);
        } catch (e) {
            if (e.status !== 401)
                errBox.replaceChildren(notice('error', e.message));
        } finally {
            older.disabled = false;
        }
    });

    // Live: a status change updates its row; an unknown task is new and goes
    // on top. A row that misses its creation time, start or exit is completed
    // from the record, fetched once per task however many events come.
    const pending = new Map();
    function refreshSoon(id) {
        clearTimeout(pending.get(id));
        pending.set(id, setTimeout(async () => {
            pending.delete(id);
            try {
                const { data } = await api('GET', apiTask(id));
                const row = rows.get(id);
                if (row && !ctx.stale()) {
                    row.rec = summaryOf(data);
                    fillRow(row.tr, row.rec);
                }
            } catch (e) {
                // the row keeps what the event said
            }
        }, 250));
    }
    ctx.cleanup(() => pending.forEach((t) => clearTimeout(t)));
    function onTaskEvent(ev) {
        if (typeof ev.id !== 'string' || typeof ev.status !== 'string')
            return;
        if (early) {
            early.push(ev);
            return;
        }
        const row = rows.get(ev.id);
        if (row) {
            const rec = row.rec;
            if (!eventIsNews(rec, ev))
                return;
            rec.seen_ms = ev.at_ms;
            rec.status = ev.status;
            if (ev.worker)
                rec.worker = ev.worker;
            if (ev.status === 'running' && typeof rec.started_ms !== 'number')
                rec.started_ms = ev.at_ms;
            if (TERMINAL.has(ev.status) && typeof rec.finished_ms !== 'number')
                rec.finished_ms = ev.at_ms;
            for (const k of ['created_ms', 'exit_code', 'signal', 'summary'])
                if (ev[k] !== undefined && ev[k] !== null)
                    rec[k] = ev[k];
            fillRow(row.tr, rec);
            // Terminal events carry the exit; the record is fetched only when
            // the row still lacks something to show.
            if (TERMINAL.has(ev.status) && (typeof rec.started_ms !== 'number' || !('exit_code' in ev)))
                refreshSoon(ev.id);
            return;
        }
        if (!matchesFilter(ev))
            return;
        const rec = { id: ev.id, status: ev.status, summary: ev.summary || '', attempt: ev.attempt,
                      worker: ev.worker, exit_code: ev.exit_code, signal: ev.signal,
                      created_ms: typeof ev.created_ms === 'number' ? ev.created_ms
                                  : ev.status === 'queued' ? ev.at_ms : undefined };
        addRows([rec], true);
        const tr = rows.get(ev.id).tr;
        tr.classList.add('row-new');
        setTimeout(() => tr.classList.remove('row-new'), 2000);
        if (ev.status !== 'queued' || typeof rec.created_ms !== 'number')
            refreshSoon(ev.id);
        updateCounts();
    }
    ctx.on('task', onTaskEvent);
    ctx.on('reset', () => reload());
    await reload();
}

// ---- task detail --------------------------------------------------------------

function fileHref(id, path) {
    const segs = String(path).split('/');
    if (segs.some((p) => p === '' || p === '.' || p === '..'))
        return null;
    return apiTask(id, '/files/' + segs.map(encodeURIComponent).join('/'));
}

function utf8Len(text) {
    return new TextEncoder().encode(text).length;
}

function limitsList(limits) {
    if (!limits || !Object.keys(limits).length)
        return h('p', { class: 'muted', text: 'worker defaults' });
    const names = {
        wall_ms: ['wall clock', fmtDur], cpu_ms: ['CPU time', fmtDur], memory_bytes: ['memory', fmtBytes],
        processes: ['processes', String], output_bytes: ['output', fmtBytes], file_bytes: ['file size', fmtBytes],
        network: ['network', (v) => (v ? 'on' : 'off')],
    };
    return dl(Object.entries(limits).map(([k, v]) =>
        [names[k] ? names[k][0] : k, names[k] ? names[k][1](v) : JSON.stringify(v)]));
}

function commandBlock(task) {
    if (!task)
        return h('p', { class: 'muted', text: 'not recorded' });
    const parts = [];
    if (Array.isArray(task.argv)) {
        parts.push(h('p', { class: 'muted small', text: 'argv, one argument per line' }),
                   h('ol', { class: 'argv' }, task.argv.map((a) => h('li', {}, h('code', { text: a })))));
    } else {
        parts.push(h('p', {}, 'Language: ', h('code', { class: 'lang', text: task.lang || '?' })));
        if (typeof task.code === 'string')
            parts.push(h('pre', { class: 'code', tabindex: '0', text: task.code }));
        if (task.code_b64)
            parts.push(notice('info', 'the code is not valid UTF-8; invalid bytes shown as \ufffd'));
    }
    if (typeof task.stdin === 'string' && task.stdin.length)
        parts.push(h('h3', { text: 'stdin' }), h('pre', { class: 'code stdin', tabindex: '0', text: task.stdin }));
    else if (task.stdin_b64)
        parts.push(h('h3', { text: 'stdin' }), h('p', { class: 'muted', text: 'binary, ' +
                                                       fmtBytes(b64bytes(task.stdin_b64).length) }));
    const env = task.env && typeof task.env === 'object' ? Object.keys(task.env) : [];
    parts.push(h('h3', { text: 'Environment' }),
               env.length ? h('ul', { class: 'chips' }, env.map((k) => h('li', {}, h('code', { text: k }))))
                          : h('p', { class: 'muted', text: 'no variables set' }));
    const given = Object.keys(task.files || {}).concat(Object.keys(task.files_b64 || {}));
    if (given.length)
        parts.push(h('h3', { text: 'Files given' }),
                   h('ul', { class: 'chips' }, given.map((k) => h('li', {}, h('code', { text: k })))));
    if (Array.isArray(task.collect) && task.collect.length)
        parts.push(h('h3', { text: 'Collect' }),
                   h('ul', { class: 'chips' }, task.collect.map((k) => h('li', {}, h('code', { text: String(k) })))));
    parts.push(h('h3', { text: 'Limits' }), limitsList(task.limits));
    return parts;
}

// The task this one re-runs: the record's rerun_of, or what its "queued"
// event says ("rerun of ID").
function rerunOf(rec) {
    if (typeof rec.rerun_of === 'string' && rec.rerun_of)
        return rec.rerun_of;
    for (const ev of Array.isArray(rec.timeline) ? rec.timeline : []) {
        const m = ev.event === 'queued' && typeof ev.detail === 'string' && /^rerun of ([0-9A-Za-z_-]+)$/.exec(ev.detail);
        if (m)
            return m[1];
    }
    return null;
}

function timelineBlock(rec) {
    const tl = Array.isArray(rec.timeline) ? rec.timeline : [];
    if (!tl.length)
        return h('p', { class: 'muted', text: 'no events recorded' });
    const first = tl[0].at_ms;
    const rows = tl.map((ev, i) => h('tr', {},
        h('td', {}, h('span', { class: 'tl-event', text: ev.event })),
        h('td', {}, timeEl(ev.at_ms)),
        h('td', { class: 'num', text: i ? '+' + fmtDur(ev.at_ms - tl[i - 1].at_ms) : '' }),
        h('td', { class: 'num', text: fmtDur(ev.at_ms - first) }),
        h('td', { class: 'mono', text: ev.worker || '' }),
        h('td', { text: (ev.attempt ? 'attempt ' + ev.attempt + (ev.detail ? '; ' : '') : '') +
                        (ev.detail ? String(ev.detail) : '') })));
    return h('div', { class: 'table-wrap' }, h('table', { class: 'timeline' },
        h('thead', {}, h('tr', {}, ['Event', 'At', 'Since previous', 'Since queued', 'Worker', 'Detail'].map(
            (t, i) => h('th', { scope: 'col', class: i === 2 || i === 3 ? 'num' : null, text: t })))),
        h('tbody', {}, rows)));
}

// One output stream (stdout or stderr): a <pre> filled with textContent,
// notes on truncation and invalid UTF-8, a hex view and a download of the
// exact bytes when they are not text.
function outputBlock(name, rec, ctx) {
    const pre = h('pre', { class: 'output ' + name, id: 'out-' + name, tabindex: '0',
                           'aria-label': name, text: rec[name] || '' });
    const extras = [];
    if (rec[name + '_truncated'])
        extras.push(notice('warn', 'output truncated at the cap'));
    if (typeof rec[name + '_b64'] === 'string') {
        const bytes = b64bytes(rec[name + '_b64']);
        const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
        ctx.cleanup(() => URL.revokeObjectURL(url));
        let hex = false;
        const toggle = h('button', { type: 'button', class: 'btn btn-small', text: 'Hex view' });
        toggle.addEventListener('click', () => {
            hex = !hex;
            pre.textContent = hex ? hexDump(bytes) : rec[name] || '';
            pre.classList.toggle('hex', hex);
            toggle.textContent = hex ? 'Text view' : 'Hex view';
        });
        extras.push(h('div', { class: 'notice notice-info binary-note' },
            h('span', { text: 'not valid UTF-8; invalid bytes shown as \ufffd' }), ' ', toggle, ' ',
            h('a', { class: 'btn btn-small', href: url, download: rec.id + '.' + name + '.bin',
                     text: 'Download ' + fmtBytes(bytes.length) })));
    }
    return h('section', { class: 'card output-card', 'data-stream': name }, h('h2', { text: name }), extras, pre);
}

function filesBlock(rec) {
    const names = new Map();    // path -> size or null
    for (const [p, v] of Object.entries(rec.files || {}))
        names.set(p, typeof v === 'string' ? utf8Len(v) : null);
    for (const [p, v] of Object.entries(rec.files_b64 || {}))
        names.set(p, typeof v === 'string' ? b64bytes(v).length : null);
    for (const ref of Array.isArray(rec.file_refs) ? rec.file_refs : []) {
        const p = typeof ref === 'string' ? ref : ref && (ref.path || ref.name);
        if (typeof p === 'string' && !names.has(p))
            names.set(p, ref && typeof ref.size === 'number' ? ref.size : null);
    }
    if (!names.size)
        return null;
    const list = h('ul', { class: 'files' });
    for (const [p, size] of Array.from(names).sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        const href = fileHref(rec.id, p);
        const base = p.split('/').pop() || 'file';
        list.append(h('li', {},
            href ? h('a', { href, download: base, class: 'file-link mono', text: p })
                 : h('span', { class: 'mono', text: p }),
            size !== null ? h('span', { class: 'muted', text: ' ' + fmtBytes(size) }) : null));
    }
    return card('Collected files', list);
}

async function pageTask(main, ctx, r) {
    const id = r.id;
    document.title = 'Task ' + id + ' \u00b7 CleudoCode';
    const view = h('div', { class: 'task-view' });
    main.append(view);
    let rec = null;
    let stream = null;          // EventSource of /stream while live
    let poll = 0;               // fallback polling when the stream is refused
    let out = null;             // live output: {stdout: {pre, got, dec}, stderr: ...}
    let streamRefused = false;  // the stream was refused once: poll instead
    let cancelSent = false;     // a cancel is on its way to the worker
    let lastEvent = null;       // the newest /api/events entry for this task
    const msg = h('div', { class: 'action-msg', 'aria-live': 'polite' });

    const stopLive = () => {
        if (stream) {
            stream.close();
            stream = null;
        }
        clearInterval(poll);
        poll = 0;
    };
    ctx.cleanup(stopLive);

    function pollOnce() {
        if (rec && !TERMINAL.has(rec.status))
            refresh();
    }

    async function fetchRecord() {
        try {
            const { data } = await api('GET', apiTask(id));
            return data;
        } catch (e) {
            if (ctx.stale() || e.status === 401)
                return null;
            if (e.status === 404 || e.status === 400) {
                view.replaceChildren(pageTitle('Task not found'),
                    notice('error', 'No task with id \u201c' + id + '\u201d.'),
                    h('p', {}, h('a', { href: '#/tasks', text: '\u2190 All tasks' })));
                return null;
            }
            throw e;
        }
    }

    async function refresh() {
        const data = await fetchRecord();
        if (!data || ctx.stale())
            return;
        render(data);
    }

    function headBlock() {
        const actions = h('div', { class: 'actions' });
        if (!TERMINAL.has(rec.status))
            actions.append(h('button', { type: 'button', class: 'btn btn-danger', id: 'cancel',
                                         text: 'Cancel', onclick: cancel }));
        actions.append(h('button', { type: 'button', class: 'btn', id: 'rerun', text: 'Re-run',
                                     onclick: rerun }));
        return h('div', { class: 'page-head task-head' },
            h('div', {},
              h('p', { class: 'crumbs' }, h('a', { href: '#/tasks', text: 'Tasks' }), ' / '),
              h('h1', {}, 'Task ', h('span', { class: 'mono', id: 'task-id', text: rec.id })),
              h('p', { class: 'status-line' }, h('span', { id: 'task-status' }, badge(rec.status)), ' ',
                h('span', { id: 'status-words', text: explain(rec) }),
                h('span', { id: 'elapsed', class: 'muted', text: elapsedText() })),
              rec.summary ? h('p', { class: 'summary-line', text: rec.summary }) : null),
            actions);
    }

    // "running for 12 s" / "waiting for 3 s" while the task is not done.
    function elapsedText() {
        if (!rec || TERMINAL.has(rec.status))
            return '';
        if (typeof rec.started_ms === 'number')
            return '\u00b7 running for ' + fmtDur(Date.now() - rec.started_ms);
        if (typeof rec.created_ms === 'number')
            return '\u00b7 waiting for ' + fmtDur(Date.now() - rec.created_ms);
        return '';
    }

    function factsBlock() {
        const started = rec.started_ms, created = rec.created_ms;
        return dl([
            ['Exit', h('span', { id: 'exit', text: exitText(rec) })],
            rec.error ? ['Reason', h('span', { class: 'reason', id: 'reason', text: String(rec.error) })] : [],
            ['Worker', rec.worker ? h('span', { class: 'mono', text: rec.worker }) : '\u2014'],
            ['Attempt', String(rec.attempt ?? '\u2014')],
            ['Created', timeEl(created)],
            ['Started', timeEl(started)],
            ['Finished', timeEl(rec.finished_ms)],
            ['Waited', typeof started === 'number' && typeof created === 'number' ? fmtDur(started - created) : null],
            ['Wall time', typeof rec.wall_ms === 'number' ? fmtDur(rec.wall_ms) : null],
            ['CPU time', typeof rec.cpu_ms === 'number' ? fmtDur(rec.cpu_ms) : null],
            ['Max memory', typeof rec.max_rss_kb === 'number' ? fmtBytes(rec.max_rss_kb * 1024) : null],
            rerunOf(rec) ? ['Re-run of', h('a', { href: taskHref(rerunOf(rec)), class: 'mono',
                                                   text: rerunOf(rec) })] : [],
        ].filter((p) => p.length));
    }

    function render(data) {
        rec = data;
        document.title = 'Task ' + rec.id + ' (' + rec.status + ') \u00b7 CleudoCode';
        const stdout = outputBlock('stdout', rec, ctx), stderr = outputBlock('stderr', rec, ctx);
        view.replaceChildren();
        append(view, [headBlock(), msg,
            h('div', { class: 'grid-2' }, card('Result', factsBlock()), card('Command', commandBlock(rec.task))),
            stdout, stderr, filesBlock(rec),
            card('Timeline', timelineBlock(rec))]);
        if (cancelSent && TERMINAL.has(rec.status)) {
            cancelSent = false;
            msg.replaceChildren(notice('info', rec.status === 'cancelled' ? 'Cancelled.'
                                       : 'The task ended (' + rec.status + ') before the cancel reached it.'));
        }
        // A new rendering starts the stream again: it replays from byte 0.
        stopLive();
        out = null;
        if (!TERMINAL.has(rec.status)) {
            out = { stdout: { pre: $('pre', stdout), got: 0, dec: new TextDecoder() },
                    stderr: { pre: $('pre', stderr), got: 0, dec: new TextDecoder() } };
            startLive();
            // An event newer than this record (it came while we fetched) wins;
            // a terminal one means the record is about to change: fetch again.
            if (lastEvent && lastEvent.status !== rec.status && eventIsNews(rec, lastEvent)) {
                if (TERMINAL.has(lastEvent.status))
                    setTimeout(() => ctx.stale() || refresh(), 300);
                else
                    applyEvent(lastEvent);
            }
        }
    }

    // Status from /api/events: the badge changes at once; the whole record
    // is fetched again once the task is terminal.
    function setStatus(status) {
        if (!rec || rec.status === status)
            return;
        rec.status = status;
        const badgeBox = $('#task-status', view), words = $('#status-words', view);
        if (badgeBox)
            badgeBox.replaceChildren(badge(status));
        if (words)
            words.textContent = explain(rec);
        if (TERMINAL.has(status)) {
            const c = $('#cancel', view);
            if (c)
                c.remove();
            refresh();
        }
    }

    function appendChunk(which, chunk) {
        if (!out || !out[which] || !chunk || typeof chunk.offset !== 'number')
            return;
        const o = out[which];
        let bytes;
        try {
            bytes = typeof chunk.data_b64 === 'string' ? b64bytes(chunk.data_b64)
                                                       : new TextEncoder().encode(chunk.data || '');
        } catch (e) {
            return;
        }
        // Offsets make a replay (reconnect) harmless: skip what we have.
        if (chunk.offset + bytes.length <= o.got)
            return;
        if (chunk.offset < o.got)
            bytes = bytes.subarray(o.got - chunk.offset);
        o.got = Math.max(o.got, chunk.offset) + bytes.length;
        if (o.got === bytes.length && o.pre.textContent)
            o.pre.textContent = '';     // the stream starts from byte 0: it replaces what we showed
        const atEnd = o.pre.scrollTop + o.pre.clientHeight >= o.pre.scrollHeight - 4;
        o.pre.append(document.createTextNode(o.dec.decode(bytes, { stream: true })));
        if (atEnd)
            o.pre.scrollTop = o.pre.scrollHeight;
    }

    function startLive() {
        if (stream || poll)
            return;
        if (streamRefused || typeof EventSource === 'undefined') {
            poll = setInterval(pollOnce, 2000);
            return;
        }
        const es = new EventSource(apiTask(id, '/stream'));
        stream = es;
        for (const which of ['stdout', 'stderr']) {
            es.addEventListener(which, (ev) => {
                try {
                    appendChunk(which, JSON.parse(ev.data));
                } catch (e) {
                    // a malformed chunk is skipped
                }
            });
        }
        es.addEventListener('restart', () => {
            // The task runs again (its worker was lost): offsets start over.
            for (const o of Object.values(out || {})) {
                o.pre.textContent = '';
                o.got = 0;
                o.dec = new TextDecoder();
            }
        });
        es.addEventListener('result', () => {
            stopLive();
            refresh();
        });
        es.addEventListener('error', () => {
            if (es.readyState === EventSource.CLOSED && stream === es) {
                // No stream (refused or gone): poll the record until it is done.
                stream = null;
                streamRefused = true;
                poll = setInterval(pollOnce, 2000);
            }
        });
    }

    async function cancel(ev) {
        const btn = ev.currentTarget;
        btn.disabled = true;
        msg.replaceChildren();
        try {
            const { status } = await api('POST', apiTask(id, '/cancel'));
            cancelSent = status === 202;
            msg.replaceChildren(notice('info', status === 202 ? 'Cancel sent; the worker is stopping the task.'
                                                              : 'Cancelled.'));
            if (status === 200)
                refresh();
        } catch (e) {
            if (e.status === 401)
                return;
            msg.replaceChildren(notice(e.status === 409 ? 'info' : 'error',
                                       e.status === 409 ? 'The task had already finished.' : e.message));
            btn.disabled = false;
            refresh();
        }
    }

    async function rerun(ev) {
        const btn = ev.currentTarget;
        btn.disabled = true;
        msg.replaceChildren();
        try {
            const { data } = await api('POST', apiTask(id, '/rerun'));
            location.hash = taskHref(data.id);
        } catch (e) {
            if (e.status !== 401)
                msg.replaceChildren(notice('error', 'Re-run failed: ' + e.message));
            btn.disabled = false;
        }
    }

    function applyEvent(ev) {
        if (!rec || !eventIsNews(rec, ev))
            return;
        rec.seen_ms = ev.at_ms;
        if (ev.status === 'running' && typeof rec.started_ms !== 'number')
            rec.started_ms = ev.at_ms;
        setStatus(ev.status);
    }
    ctx.on('task', (ev) => {
        if (ev.id !== id)
            return;
        if (!lastEvent || !(ev.at_ms < lastEvent.at_ms))
            lastEvent = ev;
        applyEvent(ev);
    });
    ctx.every(1000, () => {
        const el = $('#elapsed', view);
        if (el)
            el.textContent = elapsedText();
    });
    ctx.on('reset', () => refresh());
    view.append(h('p', { class: 'muted', text: 'Loading\u2026' }));
    const data = await fetchRecord();
    if (data && !ctx.stale())
        render(data);
}

// ---- submit ---------------------------------------------------------------------

function field(label, control, hint) {
    return h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control,
             hint ? h('p', { class: 'hint', text: hint }) : null);
}

// Where an API error's `field` is shown.
const FIELD_INPUT = {
    argv: 'code', code: 'code', lang: 'mode', stdin: 'stdin', env: 'env',
    'limits.wall_ms': 'wall', 'limits.memory_bytes': 'mem', 'limits.cpu_ms': 'cpu', 'limits.network': 'network',
};

async function pageSubmit(main) {
    main.append(pageTitle('Submit a task'));
    const mode = h('select', { id: 'mode', name: 'mode' },
        h('option', { value: 'sh', text: 'sh' }), h('option', { value: 'bash', text: 'bash' }),
        h('option', { value: 'python3', text: 'python3' }),
        h('option', { value: 'argv', text: 'argv (one argument per line)' }));
    const code = h('textarea', { id: 'code', name: 'code', rows: '10', spellcheck: 'false', class: 'mono',
                                 placeholder: 'echo hello' });
    const codeLabel = h('label', { for: 'code', text: 'Code' });
    const stdin = h('textarea', { id: 'stdin', name: 'stdin', rows: '3', spellcheck: 'false', class: 'mono' });
    const env = h('textarea', { id: 'env', name: 'env', rows: '2', spellcheck: 'false', class: 'mono',
                                placeholder: 'NAME=value' });
    const num = (id, ph) => h('input', { id, name: id, type: 'number', min: '0', step: 'any', inputmode: 'decimal',
                                        placeholder: ph });
    const wall = num('wall', 'default'), mem = num('mem', 'default'), cpu = num('cpu', 'default');
    const network = h('input', { id: 'network', name: 'network', type: 'checkbox' });
    const err = h('div', { id: 'submit-error', class: 'form-error', role: 'alert' });
    const button = h('button', { type: 'submit', class: 'btn btn-primary', id: 'submit', text: 'Run' });

    mode.addEventListener('change', () => {
        const argv = mode.value === 'argv';
        codeLabel.textContent = argv ? 'Arguments, one per line' : 'Code';
        code.placeholder = argv ? 'echo\nhello' : mode.value === 'python3' ? 'print("hello")' : 'echo hello';
    });

    const form = h('form', { class: 'submit-form card', id: 'submit-form', novalidate: true },
        field('Language', mode),
        h('div', { class: 'field' }, codeLabel, code),
        field('Standard input', stdin),
        field('Environment', env, 'One NAME=value per line.'),
        h('fieldset', { class: 'limits' }, h('legend', { text: 'Limits' }),
          h('div', { class: 'limit-grid' },
            field('Timeout (seconds)', wall), field('Memory (MiB)', mem), field('CPU time (seconds)', cpu)),
          h('label', { class: 'check', for: 'network' }, network, ' Network access')),
        err, h('div', { class: 'actions' }, button));

    function fail(message, fieldName) {
        for (const el of form.querySelectorAll('[aria-invalid]'))
            el.removeAttribute('aria-invalid');
        err.replaceChildren();
        const inputId = fieldName && (FIELD_INPUT[fieldName] ||
                                      (fieldName.startsWith('env') ? 'env' : null));
        err.append(fieldName ? h('strong', { text: fieldName + ': ' }) : null, message);
        if (inputId) {
            const el = $('#' + inputId, form);
            el.setAttribute('aria-invalid', 'true');
            el.setAttribute('aria-describedby', 'submit-error');
            el.focus();
        }
    }

    function build() {
        const body = {};
        if (mode.value === 'argv') {
            const args = code.value.split('\n');
            while (args.length && args[args.length - 1] === '')
                args.pop();
            body.argv = args;
        } else {
            body.lang = mode.value;
            body.code = code.value;
        }
        if (stdin.value)
            body.stdin = stdin.value;
        const vars = {};
        let n = 0;
        for (const [i, line] of env.value.split('\n').entries()) {
            if (!line.trim())
                continue;
            const eq = line.indexOf('=');
            if (eq <= 0)
                return fail('line ' + (i + 1) + ' needs NAME=value', 'env');
            vars[line.slice(0, eq)] = line.slice(eq + 1);
            n++;
        }
        if (n)
            body.env = vars;
        const limits = {};
        const conv = (input, scale) => {
            if (input.value === '' && !input.validity.badInput)
                return undefined;
            const v = Number(input.value);
            return input.validity.badInput || !isFinite(v) ? NaN : Math.round(v * scale);
        };
        for (const [input, key, scale, what] of [[wall, 'wall_ms', 1000, 'seconds'],
                                                 [mem, 'memory_bytes', 1048576, 'MiB'],
                                                 [cpu, 'cpu_ms', 1000, 'seconds']]) {
            const v = conv(input, scale);
            if (Number.isNaN(v))
                return fail('must be a number of ' + what, 'limits.' + key);
            if (v !== undefined)
                limits[key] = v;
        }
        if (network.checked)
            limits.network = true;
        if (Object.keys(limits).length)
            body.limits = limits;
        return body;
    }

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        err.replaceChildren();
        const body = build();
        if (!body)
            return;
        button.disabled = true;
        try {
            const { data } = await api('POST', '/api/tasks', body);
            location.hash = taskHref(data.id);
        } catch (e) {
            if (e.status !== 401)
                fail(e.message, e.field);
        } finally {
            button.disabled = false;
        }
    });
    main.append(form);
    code.focus();
}

// ---- workers --------------------------------------------------------------------

function isoBadges(iso) {
    if (!iso || typeof iso !== 'object' || !Object.keys(iso).length)
        return [h('span', { class: 'muted', text: 'not reported' })];
    const off = [];
    const list = h('ul', { class: 'iso' });
    // A layer is true/false, a level (Landlock's ABI version) or, from older
    // workers, "on" / "off: why".
    for (const [layer, val] of Object.entries(iso)) {
        let on, label = layer, why = null;
        if (typeof val === 'boolean') {
            on = val;
        } else if (typeof val === 'number') {
            on = val > 0;
            label = layer + ' ' + val;
        } else {
            const text = String(val);
            on = text === 'on' || text.startsWith('on');
            why = on ? null : text;
        }
        list.append(h('li', { class: 'iso-badge ' + (on ? 'iso-on' : 'iso-off'),
                              title: layer + ': ' + (on ? 'enforced' : 'not enforced'),
                              'data-layer': layer, 'data-on': on ? 'true' : 'false' },
                      h('span', { 'aria-hidden': 'true', text: on ? '\u2713 ' : '\u2717 ' }), label,
                      h('span', { class: 'sr-only', text: on ? ' (on)' : ' (off)' })));
        if (why)
            off.push(h('li', {}, h('strong', { text: layer }), ': ' + why));
    }
    return [list, off.length ? h('ul', { class: 'iso-reasons small muted' }, off) : null];
}

function workerCard(w) {
    const slots = typeof w.slots === 'number' ? w.slots : 0;
    const busy = typeof w.busy === 'number' ? w.busy : 0;
    const running = Array.isArray(w.running) ? w.running : [];
    return h('article', { class: 'card worker', 'data-worker': w.id },
        h('header', { class: 'worker-head' }, h('h2', { class: 'mono', text: w.id }),
          h('span', { class: 'muted', text: w.version ? 'version ' + w.version : '' })),
        h('div', { class: 'slots' },
          h('meter', { min: '0', max: String(Math.max(slots, 1)), value: String(busy), 'aria-label': 'busy slots' }),
          h('span', { text: busy + ' of ' + slots + ' slots busy' })),
        dl([
            ['Last heartbeat', h('span', { class: 'rel', 'data-at': String(w.last_heartbeat_ms ?? ''),
                                           title: typeof w.last_heartbeat_ms === 'number'
                                               ? new Date(w.last_heartbeat_ms).toISOString() : '',
                                           text: fmtAgo(w.last_heartbeat_ms) })],
            ['Tasks done', String(w.tasks_done ?? 0)],
            ['Free slots', String(w.free ?? Math.max(0, slots - busy))],
            ['Running', running.length ? h('span', {}, running.map((t, i) => [i ? ', ' : '',
                h('a', { href: taskHref(t), class: 'mono', text: t })])) : 'nothing'],
        ]),
        h('h3', { text: 'Isolation' }), isoBadges(w.isolation));
}

async function pageWorkers(main, ctx) {
    main.append(pageTitle('Workers'));
    const box = h('div', { class: 'workers' }, h('p', { class: 'muted', text: 'Loading\u2026' }));
    main.append(box);
    const load = async () => {
        try {
            const { data } = await api('GET', '/api/workers');
            if (ctx.stale())
                return;
            const items = data.items || [];
            box.replaceChildren(...(items.length ? items.map(workerCard)
                : [notice('info', 'No worker is connected. Start an agent-sandbox.')]));
        } catch (e) {
            if (!ctx.stale() && e.status !== 401)
                box.replaceChildren(notice('error', 'Workers unavailable: ' + e.message));
        }
    };
    await load();
    ctx.every(5000, load);
    ctx.every(1000, () => {
        for (const el of box.querySelectorAll('.rel')) {
            const at = Number(el.getAttribute('data-at'));
            el.textContent = at ? fmtAgo(at) : 'never';
        }
    });
    const soon = debounce(load, 500);
    ctx.on('worker', soon);
    ctx.on('reset', soon);
}

async function pageNotFound(main) {
    main.append(pageTitle('Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/', text: 'Overview' })));
}

// ---- start ------------------------------------------------------------------------

function start() {
    $('#logout').addEventListener('click', logout);
    window.addEventListener('hashchange', route);
    route();
}

if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', start);
else
    start();

})();
