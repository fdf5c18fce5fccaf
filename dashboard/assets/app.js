// weir's dashboard: one page, two views (the list at #/, a rollout at
// #/rollouts/{namespace}/{name}), refreshed by polling weir's JSON API every 2 s.
//
// Everything the server sends (names, messages, values) is untrusted: it only ever
// reaches the page as text (textContent, attribute values, titles), never as HTML.
// No inline scripts, no eval: the page runs under `default-src 'self'`.
(function () {
  'use strict';

  // ---------------------------------------------------------------- settings

  const POLL_MS = 2000;
  const FETCH_TIMEOUT_MS = 6000;
  const HISTORY_S = 600; // the longest the plots show: weir keeps 10 minutes
  const MIN_SPAN_S = 60;
  const GAP_BRIDGE_S = 7; // up to two missing samples (one every 2 s) drawn as a line // the shortest time axis, so the first points are not stretched
  const TOKEN_KEY = 'weir.dashboard.token';

  const SIDE_COLOURS = { stable: '#1f6feb', canary: '#e8710a', baseline: '#8c959f' };
  const SIDE_ORDER = ['stable', 'canary', 'baseline'];

  const ACTIONS = [
    ['promote', 'Promote', 'Go on to the next step (ends the current pause)'],
    ['promote-full', 'Promote full', 'Skip the remaining steps: the canary becomes the stable version'],
    ['abort', 'Abort', 'Stop the rollout and send all traffic back to stable'],
    ['retry', 'Retry', 'Start the aborted rollout again from its first step'],
    ['pause', 'Pause', 'Hold the rollout at its current step'],
    ['resume', 'Resume', 'Let a paused rollout go on'],
  ];

  // The three plots: what each draws for every side, and how its axis reads.
  const PLOTS = [
    {
      id: 'plot-success', title: 'Success rate', unit: '%',
      metrics: [{ key: 'success', label: 'success', scale: 100 }],
      range: () => [0, 100],
      fmt: (v) => (v >= 99.95 || v === 0 ? v.toFixed(0) : v.toFixed(v >= 99 ? 2 : 1)) + ' %',
      tick: (v) => v.toFixed(0) + '%',
    },
    {
      id: 'plot-rate', title: 'Request rate', unit: 'req/s',
      metrics: [{ key: 'rps', label: 'req/s', scale: 1 }],
      range: (u, min, max) => [0, niceMax(max)],
      fmt: (v) => fmtRate(v) + ' req/s',
      tick: (v) => fmtRate(v),
    },
    {
      id: 'plot-latency', title: 'Latency p50 / p99', unit: 'ms',
      metrics: [
        { key: 'p50', label: 'p50', scale: 1000 },
        { key: 'p99', label: 'p99', scale: 1000, dash: [6, 4] },
      ],
      range: (u, min, max) => [0, niceMax(max)],
      fmt: (v) => fmtMs(v),
      tick: (v) => fmtMs(v),
    },
  ];

  // ---------------------------------------------------------------- state

  const state = {
    route: { view: 'list' },
    info: null,
    token: readToken(),
    tokenAsked: false,
    online: null,
    lastAnswer: 0,
    timer: 0,
    tickSeq: 0,
    summary: null, // the rollout view's latest summary (for the buttons)
    acting: false,
    plots: {}, // id -> {u, sig, marks, layer, xmin, xmax, observer}
    seen: {}, // what each part of the page last drew, to redraw only on change
  };

  // ---------------------------------------------------------------- DOM helpers

  // h('tag', {class, text, title, dataset, onclick, attr: value}, ...children)
  // Children are nodes or strings (added as text, never parsed).
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else if (k === 'dataset') {
          for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv);
        } else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  const $ = (sel, root) => (root || document).querySelector(sel);

  function setText(sel, text) {
    const el = typeof sel === 'string' ? $(sel) : sel;
    if (el && el.textContent !== text) el.textContent = text;
    return el;
  }

  // True when `value` differs from what part `key` last drew (and remembers it).
  function changed(key, value) {
    const s = JSON.stringify(value === undefined ? null : value);
    if (state.seen[key] === s) return false;
    state.seen[key] = s;
    return true;
  }

  // Keeps `parent`'s children in step with `items`: one child per key, created once with
  // `create(item)` and refreshed with `update(el, item)`, in the items' order.
  function reconcile(parent, items, keyOf, create, update) {
    const old = new Map();
    for (const el of Array.from(parent.children)) old.set(el._key, el);
    let i = 0;
    for (const item of items) {
      const key = keyOf(item);
      let el = old.get(key);
      if (el) old.delete(key);
      else {
        el = create(item);
        el._key = key;
      }
      update(el, item);
      if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null);
      i++;
    }
    for (const el of old.values()) el.remove();
  }

  // ---------------------------------------------------------------- formatting

  const DASH = '–';

  function pad2(n) { return String(n).padStart(2, '0'); }

  function fmtClock(unixSeconds) {
    const d = new Date(unixSeconds * 1000);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  function parseTime(iso) {
    if (!iso) return null;
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t / 1000 : null;
  }

  function fmtSpan(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + (s < 600 && s % 60 ? (s % 60) + 's' : '');
    if (s < 86400) return Math.floor(s / 3600) + 'h' + (s < 36000 && Math.floor(s / 60) % 60 ? (Math.floor(s / 60) % 60) + 'm' : '');
    return Math.floor(s / 86400) + 'd' + (s < 864000 && Math.floor(s / 3600) % 24 ? (Math.floor(s / 3600) % 24) + 'h' : '');
  }

  function fmtAge(iso) {
    const t = parseTime(iso);
    return t === null ? DASH : fmtSpan(Date.now() / 1000 - t);
  }

  function fmtDateTime(iso) {
    const t = parseTime(iso);
    if (t === null) return iso ? String(iso) : '';
    return new Date(t * 1000).toLocaleString();
  }

  function fmtRate(v) {
    if (v === 0) return '0';
    if (v < 10) return v.toFixed(1);
    if (v < 10000) return v.toFixed(0);
    return (v / 1000).toFixed(0) + 'k';
  }

  function fmtMs(v) {
    if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 2) + ' s';
    if (v === 0) return '0 ms';
    if (v < 1) return v.toFixed(2) + ' ms';
    if (v < 10) return v.toFixed(1) + ' ms';
    return v.toFixed(0) + ' ms';
  }

  function niceMax(max) {
    if (max === null || max === undefined || !Number.isFinite(max) || max <= 0) return 1;
    const padded = max * 1.15;
    const mag = Math.pow(10, Math.floor(Math.log10(padded)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= padded) return m * mag;
    return 10 * mag;
  }

  // A measurement's value as Argo stores it ("0.9871", "[0.98]", "12"): numbers shortened.
  function fmtValue(v) {
    if (v === undefined || v === null || v === '') return DASH;
    const s = String(v);
    const num = (x) => {
      const t = x.trim();
      if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return t;
      const n = Number(t);
      if (Number.isInteger(n)) return String(n);
      return String(Number(n.toPrecision(4)));
    };
    const m = s.match(/^\[(.*)\]$/);
    const out = m ? '[' + m[1].split(',').map(num).join(', ') + ']' : num(s);
    return out.length > 28 ? out.slice(0, 27) + '…' : out;
  }

  // A Go duration ("30s", "1m30s", "2h") or a number of seconds, in seconds.
  function parseDuration(d) {
    if (d === undefined || d === null) return null;
    if (typeof d === 'number') return d;
    const s = String(d).trim();
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
    const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
    let total = 0; let any = false; let m;
    while ((m = re.exec(s))) {
      any = true;
      const n = Number(m[1]);
      total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000;
    }
    return any ? total : null;
  }

  function pct(v) { return v === null || v === undefined ? DASH : v + '%'; }

  function weightsText(s) {
    if (s.actualWeight === null && s.setWeight === null) return DASH;
    const actual = s.actualWeight === null || s.actualWeight === undefined ? DASH : s.actualWeight + '%';
    return s.setWeight === null || s.setWeight === undefined ? actual : actual + ' (set ' + s.setWeight + '%)';
  }

  function stepText(s) {
    if (!s.stepCount) return DASH;
    return (s.stepIndex === null || s.stepIndex === undefined ? DASH : s.stepIndex) + '/' + s.stepCount;
  }

  function phaseOf(s) { return s && s.phase ? String(s.phase) : 'Unknown'; }

  function badge(phase, extraClass) {
    return h('span', { class: 'badge' + (extraClass ? ' ' + extraClass : ''), dataset: { phase }, text: phase });
  }

  function rolloutHref(ns, name) {
    return '#/rollouts/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name);
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message, unreachable) {
      super(message);
      this.status = status;
      this.unreachable = unreachable; // weir did not answer (or something else answered)
    }
  }

  async function request(method, path, body) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      if (state.token) headers.Authorization = 'Bearer ' + state.token;
    }
    let resp;
    try {
      resp = await fetch(path, { method, headers, body, signal: ctrl.signal, cache: 'no-store', credentials: 'same-origin' });
    } catch (e) {
      throw new ApiError(0, 'weir is not answering', true);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (resp.ok && data !== null) return data;
    if (data && typeof data.error === 'string') throw new ApiError(resp.status, data.error, false);
    // Not weir's JSON: a proxy in front saying weir is down, or a half-started server.
    throw new ApiError(resp.status, 'HTTP ' + resp.status, true);
  }

  const api = {
    info: () => request('GET', 'api/info'),
    list: () => request('GET', 'api/rollouts'),
    rollout: (ns, name) => request('GET', 'api/rollouts/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name)),
    series: (ns, name) => request('GET', 'api/rollouts/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name) + '/series'),
    act: (ns, name, action) => request('POST', 'api/rollouts/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name) + '/' + action, '{}'),
  };

  // ---------------------------------------------------------------- banner, header, token

  function setOnline(online) {
    if (online) state.lastAnswer = Date.now();
    if (state.online === online) return;
    state.online = online;
    $('#banner').hidden = online;
    const live = $('#live');
    live.classList.toggle('offline', !online);
    live.textContent = online ? 'live' : 'offline';
  }

  function renderInfo() {
    const i = state.info;
    setText('#info', i ? [i.mode, i.version ? 'v' + i.version : ''].filter(Boolean).join(' · ') : '');
    updateTokenBox();
  }

  function readToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  function updateTokenBox() {
    const box = $('#token-box');
    const want = state.tokenAsked || !!state.token || !!(state.info && state.info.tokenRequired);
    box.hidden = !want;
    box.classList.toggle('asking', state.tokenAsked && !state.token);
  }

  function saveToken() {
    const input = $('#token');
    state.token = input.value.trim();
    try {
      if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage refused: keep it for this page only */ }
    state.tokenAsked = false;
    updateTokenBox();
    const result = $('#action-result');
    if (result) showResult(state.token ? 'token saved: try the action again' : 'token cleared', 'info');
  }

  // ---------------------------------------------------------------- polling

  // One poll: fetches what the current view shows and draws it. A newer tick (a route
  // change, an action) supersedes an older one still waiting for its answers.
  async function tick() {
    const seq = ++state.tickSeq;
    clearTimeout(state.timer);
    const route = state.route;
    let reachable = true;
    try {
      if (!state.info) {
        try {
          state.info = await api.info();
          renderInfo();
        } catch (e) {
          if (e.unreachable) throw e;
        }
      }
      if (route.view === 'list') {
        const data = await api.list();
        if (seq !== state.tickSeq) return;
        renderList(data);
      } else {
        const [detail, series] = await Promise.allSettled([
          api.rollout(route.ns, route.name),
          api.series(route.ns, route.name),
        ]);
        if (seq !== state.tickSeq) return;
        for (const r of [detail, series]) {
          if (r.status === 'rejected' && r.reason && r.reason.unreachable) reachable = false;
        }
        if (detail.status === 'fulfilled') {
          renderRollout(detail.value);
        } else if (!detail.reason.unreachable) {
          renderRolloutError(detail.reason);
        }
        if (series.status === 'fulfilled') renderSeries(series.value);
        else if (!series.reason.unreachable) renderSeries(null);
      }
    } catch (e) {
      if (seq !== state.tickSeq) return;
      if (e && e.unreachable) reachable = false;
      else if (route.view === 'list') renderListError(e);
      else console.error(e);
    }
    if (seq !== state.tickSeq) return;
    setOnline(reachable);
    state.timer = setTimeout(tick, POLL_MS);
  }

  // ---------------------------------------------------------------- routing

  function parseRoute() {
    const hash = location.hash.replace(/^#/, '') || '/';
    const m = hash.match(/^\/rollouts\/([^/]+)\/([^/?]+)\/?$/);
    if (m) {
      try {
        return { view: 'rollout', ns: decodeURIComponent(m[1]), name: decodeURIComponent(m[2]) };
      } catch (e) { /* a malformed address: show the list */ }
    }
    return { view: 'list' };
  }

  function route() {
    destroyPlots();
    state.seen = {};
    state.summary = null;
    state.route = parseRoute();
    const view = $('#view');
    if (state.route.view === 'rollout') {
      view.replaceChildren(buildRolloutView(state.route));
      document.title = state.route.name + ' · weir';
    } else {
      view.replaceChildren(buildListView());
      document.title = 'Rollouts · weir';
    }
    window.scrollTo(0, 0);
    tick();
  }

  // ---------------------------------------------------------------- list view

  function buildListView() {
    return h('div', { class: 'list-view' },
      h('section', { class: 'card' },
        h('div', { class: 'section-head' },
          h('h1', null, 'Rollouts'),
          h('span', { id: 'rollout-count', class: 'muted' })),
        h('p', { id: 'list-error', class: 'notice error', hidden: true }),
        h('table', { id: 'rollouts', class: 'grid' },
          h('thead', null, h('tr', null,
            h('th', null, 'Namespace'), h('th', null, 'Name'), h('th', null, 'Strategy'),
            h('th', null, 'Status'), h('th', null, 'Step'), h('th', null, 'Canary weight'),
            h('th', { class: 'bar-col' }, 'Traffic'), h('th', null, 'Revision'),
            h('th', null, 'Age'), h('th', null, 'Message'))),
          h('tbody')),
        h('p', { id: 'rollouts-empty', class: 'empty', hidden: true }, 'No rollouts yet.')),
      h('section', { class: 'card' },
        h('div', { class: 'section-head' },
          h('h2', null, 'Experiments'),
          h('span', { id: 'experiment-count', class: 'muted' })),
        h('table', { id: 'experiments', class: 'grid' },
          h('thead', null, h('tr', null,
            h('th', null, 'Namespace'), h('th', null, 'Name'), h('th', null, 'Status'),
            h('th', null, 'Rollout'), h('th', null, 'Age'), h('th', null, 'Message'))),
          h('tbody')),
        h('p', { id: 'experiments-empty', class: 'empty', hidden: true }, 'No experiments.')));
  }

  function weightBar(el, s) {
    // el: a .wbar with two children (stable, canary); the set weight as a tick.
    const w = s.actualWeight !== null && s.actualWeight !== undefined ? s.actualWeight : s.setWeight;
    const known = w !== null && w !== undefined;
    const canary = known ? Math.max(0, Math.min(100, w)) : 0;
    el.classList.toggle('unknown', !known);
    el.children[0].style.width = (known ? 100 - canary : 100) + '%';
    el.children[1].style.width = canary + '%';
    const tick = el.children[2];
    if (s.setWeight !== null && s.setWeight !== undefined) {
      tick.hidden = false;
      // stable fills from the left, canary from the right: the set weight's place
      tick.style.left = 100 - Math.max(0, Math.min(100, s.setWeight)) + '%';
    } else tick.hidden = true;
    el.title = known
      ? 'stable ' + (100 - canary) + '% · canary ' + canary + '%' +
        (s.setWeight !== null && s.setWeight !== undefined ? ' · set ' + s.setWeight + '%' : '') +
        (s.weightsVerified === true ? ' · verified' : s.weightsVerified === false ? ' · not verified' : '')
      : 'no weights';
  }

  function newWeightBar(big) {
    return h('div', { class: 'wbar' + (big ? ' big' : '') },
      h('span', { class: 'wbar-stable' }), h('span', { class: 'wbar-canary' }),
      h('span', { class: 'wbar-set', hidden: true }));
  }

  function renderList(data) {
    setText('#list-error', '');
    $('#list-error').hidden = true;
    const rollouts = Array.isArray(data.rollouts) ? data.rollouts : [];
    const experiments = Array.isArray(data.experiments) ? data.experiments : [];
    setText('#rollout-count', rollouts.length ? String(rollouts.length) : '');
    setText('#experiment-count', experiments.length ? String(experiments.length) : '');
    $('#rollouts-empty').hidden = rollouts.length > 0;
    $('#experiments-empty').hidden = experiments.length > 0;

    reconcile($('#rollouts tbody'), rollouts, (s) => s.namespace + '/' + s.name,
      (s) => h('tr', { dataset: { rollout: s.namespace + '/' + s.name } },
        h('td', { class: 'namespace' }),
        h('td', { class: 'name' }, h('a', { class: 'open', href: rolloutHref(s.namespace, s.name) })),
        h('td', { class: 'strategy' }),
        h('td', { class: 'phase' }, h('span', { class: 'badge' })),
        h('td', { class: 'step num' }),
        h('td', { class: 'weights num' }),
        h('td', { class: 'bar' }, newWeightBar(false)),
        h('td', { class: 'revision num' }),
        h('td', { class: 'age num' }),
        h('td', { class: 'message' })),
      (tr, s) => {
        const c = tr.children;
        setText(c[0], s.namespace);
        setText(c[1].firstChild, s.name);
        setText(c[2], s.strategy === 'blueGreen' ? 'blue-green' : s.strategy || DASH);
        const b = c[3].firstChild;
        setText(b, phaseOf(s));
        b.dataset.phase = phaseOf(s);
        b.classList.toggle('aborted', !!s.aborted);
        b.title = s.aborted ? 'aborted' : s.paused ? 'paused' : '';
        setText(c[4], stepText(s));
        setText(c[5], weightsText(s));
        c[5].classList.toggle('unverified', s.weightsVerified === false);
        c[5].title = s.weightsVerified === true ? 'weights verified' : s.weightsVerified === false ? 'weights not verified' : '';
        weightBar(c[6].firstChild, s);
        setText(c[7], s.revision || DASH);
        setText(c[8], fmtAge(s.createdAt));
        c[8].title = fmtDateTime(s.createdAt);
        setText(c[9], (s.aborted ? 'aborted' + (s.message ? ': ' : '') : '') + (s.message || ''));
        c[9].title = s.message || '';
        tr.dataset.phase = phaseOf(s);
      });

    reconcile($('#experiments tbody'), experiments, (e) => e.namespace + '/' + e.name,
      (e) => h('tr', { dataset: { experiment: e.namespace + '/' + e.name } },
        h('td', { class: 'namespace' }),
        h('td', { class: 'name' }),
        h('td', { class: 'phase' }, h('span', { class: 'badge' })),
        h('td', { class: 'rollout' }),
        h('td', { class: 'age num' }),
        h('td', { class: 'message' })),
      (tr, e) => {
        const c = tr.children;
        setText(c[0], e.namespace);
        setText(c[1], e.name);
        const b = c[2].firstChild;
        setText(b, phaseOf(e));
        b.dataset.phase = phaseOf(e);
        if (changed('exp-rollout:' + e.namespace + '/' + e.name, e.rollout || null)) {
          c[3].replaceChildren(e.rollout
            ? h('a', { class: 'open', href: rolloutHref(e.namespace, e.rollout), text: e.rollout })
            : DASH);
        }
        setText(c[4], fmtAge(e.createdAt));
        c[4].title = fmtDateTime(e.createdAt);
        setText(c[5], e.message || '');
        c[5].title = e.message || '';
      });
  }

  function renderListError(e) {
    const el = $('#list-error');
    if (!el) return;
    el.hidden = false;
    setText(el, 'weir could not list the rollouts: ' + (e && e.message ? e.message : String(e)));
  }

  // ---------------------------------------------------------------- rollout view

  function fact(label, id, unit) {
    return h('div', { class: 'fact' },
      h('div', { class: 'fact-label' }, label),
      h('div', { class: 'fact-value' }, h('span', { id, text: DASH }), unit ? h('span', { class: 'unit', id: id + '-unit' }, unit) : null));
  }

  function buildRolloutView(r) {
    const actions = h('div', { class: 'actions' },
      ACTIONS.map(([action, label, title]) =>
        h('button', { type: 'button', class: 'action', dataset: { action }, title, disabled: true, onclick: () => doAction(action) }, label)));

    const plots = PLOTS.map((p) =>
      h('figure', { class: 'plot-box' },
        h('figcaption', null, p.title, h('span', { class: 'unit' }, p.unit)),
        h('div', { id: p.id, class: 'plot', dataset: { pointsStable: 0, pointsCanary: 0, marks: 0 } },
          h('div', { class: 'plot-empty', text: 'No traffic measured yet' }))));

    return h('div', { class: 'rollout-view' },
      h('a', { id: 'back', class: 'back', href: '#/' }, '← All rollouts'),
      h('p', { id: 'rollout-error', class: 'notice error', hidden: true }),
      h('section', { class: 'card head' },
        h('div', { class: 'title-row' },
          h('div', { class: 'title' },
            h('h1', null, h('span', { id: 'rollout-name', text: r.name })),
            h('span', { id: 'rollout-namespace', class: 'ns', title: 'namespace', text: r.ns }),
            h('span', { id: 'phase', class: 'badge', text: DASH }),
            h('span', { id: 'state-tags' }),
            h('span', { id: 'strategy', class: 'muted' })),
          actions),
        h('p', { id: 'message', class: 'message' }),
        h('div', { id: 'action-result', class: 'action-result', role: 'status', 'aria-live': 'polite' }),
        h('div', { class: 'facts' },
          fact('Step', 'step'),
          fact('Set weight', 'set-weight', '%'),
          fact('Actual weight', 'actual-weight', '%'),
          fact('Weights', 'weights-verified'),
          fact('Revision', 'revision'),
          fact('Age', 'age')),
        h('div', { class: 'traffic' },
          h('span', { class: 'side-label stable' }, 'stable ', h('b', { id: 'bar-stable', text: DASH })),
          newWeightBar(true),
          h('span', { class: 'side-label canary' }, 'canary ', h('b', { id: 'bar-canary', text: DASH })))),
      h('div', { class: 'columns' },
        h('section', { class: 'card steps-card' },
          h('h2', null, 'Steps'),
          h('ol', { id: 'steps', class: 'steps' }),
          h('p', { id: 'steps-note', class: 'muted', hidden: true })),
        h('section', { class: 'card plots-card' },
          h('div', { class: 'section-head' },
            h('h2', null, 'Traffic'),
            h('span', { class: 'muted', id: 'plots-span' }, 'last minutes')),
          h('div', { class: 'key' },
            h('span', { class: 'key-item side stable' }, 'stable'),
            h('span', { class: 'key-item side canary' }, 'canary'),
            h('span', { class: 'key-item side baseline', id: 'key-baseline', hidden: true }, 'baseline'),
            h('span', { class: 'key-item dash' }, 'p99 dashed'),
            h('span', { class: 'key-sep' }),
            h('span', { class: 'key-item mark-key weight' }, 'weight change'),
            ['Successful', 'Failed', 'Inconclusive', 'Error'].map((p) =>
              h('span', { class: 'key-item mark-key', dataset: { phase: p } }, p.toLowerCase()))),
          h('div', { class: 'plots' }, plots))),
      h('section', { class: 'card' },
        h('h2', null, 'Analysis runs'),
        h('div', { id: 'analysis-runs', class: 'runs' }),
        h('p', { id: 'runs-empty', class: 'empty', hidden: true }, 'No analysis runs.')),
      h('section', { class: 'card', id: 'experiments-card', hidden: true },
        h('h2', null, 'Experiments'),
        h('div', { id: 'rollout-experiments' })),
      h('section', { class: 'card' },
        h('h2', null, 'Events'),
        h('ul', { id: 'events', class: 'events' }),
        h('p', { id: 'events-empty', class: 'empty', hidden: true }, 'No events.')));
  }

  function renderRolloutError(e) {
    const el = $('#rollout-error');
    if (!el) return;
    el.hidden = false;
    setText(el, e.status === 404 ? e.message + ' (it may have been deleted)' : 'weir answered: ' + e.message);
    if (e.status === 404) {
      state.summary = null;
      setText('#phase', 'NotFound');
      $('#phase').dataset.phase = 'NotFound';
      updateButtons();
    }
  }

  function renderRollout(d) {
    const s = d.summary || {};
    const rollout = d.rollout || {};
    $('#rollout-error').hidden = true;
    applySummary(s);
    renderSteps(rollout, s);
    renderRuns(Array.isArray(d.analysisRuns) ? d.analysisRuns : []);
    renderExperiments(Array.isArray(d.experiments) ? d.experiments : []);
    renderEvents(Array.isArray(d.events) ? d.events : []);
  }

  // The header: phase, message, weights, revision, and the buttons. Also used with the
  // summary an action answers, so the page shows the outcome at once.
  function applySummary(s) {
    state.summary = s;
    const phase = phaseOf(s);
    setText('#phase', phase);
    $('#phase').dataset.phase = phase;
    document.title = (s.name || state.route.name) + ' · ' + phase + ' · weir';

    const tags = [];
    if (s.aborted) tags.push(['aborted', 'aborted']);
    if (s.paused && phase !== 'Paused') tags.push(['paused', 'paused']);
    if (changed('tags', tags)) {
      $('#state-tags').replaceChildren(...tags.map(([cls, t]) => h('span', { class: 'tag ' + cls, text: t })));
    }
    setText('#strategy', s.strategy === 'blueGreen' ? 'blue-green' : s.strategy ? s.strategy : '');
    setText('#message', s.message || '');
    $('#message').hidden = !s.message;

    setText('#step', stepText(s));
    const num = (v) => (v === null || v === undefined ? DASH : String(v));
    setText('#set-weight', num(s.setWeight));
    $('#set-weight-unit').hidden = s.setWeight === null || s.setWeight === undefined;
    setText('#actual-weight', num(s.actualWeight));
    $('#actual-weight-unit').hidden = s.actualWeight === null || s.actualWeight === undefined;
    const verified = s.weightsVerified === true ? 'verified' : s.weightsVerified === false ? 'not verified' : DASH;
    setText('#weights-verified', verified);
    $('#weights-verified').dataset.verified = String(s.weightsVerified);
    setText('#revision', s.revision || DASH);
    setText('#age', fmtAge(s.createdAt));
    $('#age').title = fmtDateTime(s.createdAt);

    const bar = $('.traffic .wbar');
    weightBar(bar, s);
    const w = s.actualWeight !== null && s.actualWeight !== undefined ? s.actualWeight : s.setWeight;
    setText('#bar-canary', w === null || w === undefined ? DASH : w + '%');
    setText('#bar-stable', w === null || w === undefined ? DASH : 100 - w + '%');
    updateButtons();
  }

  // Which actions make sense now (as Argo's own dashboard: promote and abort while the
  // rollout is under way, retry once aborted), plus pause and resume.
  function actionEnabled(action, s) {
    if (!s) return false;
    const phase = phaseOf(s);
    const midSteps = s.stepCount > 0 && s.stepIndex !== null && s.stepIndex !== undefined && s.stepIndex < s.stepCount;
    const underWay = !s.aborted && (phase === 'Progressing' || phase === 'Paused' || !!s.paused || (midSteps && phase !== 'Healthy'));
    switch (action) {
      case 'promote': return underWay;
      case 'promote-full': return underWay;
      case 'abort': return !s.aborted && (phase !== 'Healthy' || midSteps);
      case 'retry': return !!s.aborted;
      case 'pause': return underWay && !s.paused && phase !== 'Paused';
      case 'resume': return !!s.paused || phase === 'Paused';
      default: return false;
    }
  }

  function updateButtons() {
    for (const b of document.querySelectorAll('button[data-action]')) {
      b.disabled = state.acting || !actionEnabled(b.dataset.action, state.summary);
    }
  }

  function showResult(text, kind) {
    const el = $('#action-result');
    if (!el) return;
    el.textContent = text;
    el.dataset.kind = kind || '';
  }

  async function doAction(action) {
    const r = state.route;
    if (r.view !== 'rollout' || state.acting) return;
    state.acting = true;
    updateButtons();
    showResult(action + ': …', 'pending');
    try {
      const res = await api.act(r.ns, r.name, action);
      showResult(action + ': done', 'ok');
      setOnline(true);
      if (res && res.summary && state.route === r) applySummary(res.summary);
    } catch (e) {
      if (e.status === 401) {
        state.tokenAsked = true;
        updateTokenBox();
        showResult(action + ': ' + e.message + ' — enter the admin token at the top, save it, then try again', 'error');
        const input = $('#token');
        if (input) input.focus();
      } else if (e.status === 403) {
        showResult(action + ': ' + e.message + ' (403)', 'error');
      } else if (e.unreachable && e.status === 0) {
        showResult(action + ': weir is not answering', 'error');
        setOnline(false);
      } else {
        showResult(action + ': ' + e.message, 'error');
      }
    } finally {
      state.acting = false;
      updateButtons();
    }
    if (state.route === r) tick();
  }

  // ---------------------------------------------------------------- steps

  function describeStep(step) {
    if (!step || typeof step !== 'object') return { kind: 'unknown', text: String(step) };
    if (step.setWeight !== undefined) return { kind: 'weight', text: 'Set weight ' + step.setWeight + '%' };
    if (step.pause !== undefined) {
      const d = step.pause && step.pause.duration !== undefined ? step.pause.duration : null;
      return { kind: 'pause', text: d === null ? 'Pause until promoted' : 'Pause ' + (typeof d === 'number' ? d + 's' : d), seconds: parseDuration(d) };
    }
    if (step.analysis) {
      const names = (step.analysis.templates || []).map((t) => t.templateName || t.name).filter(Boolean);
      return { kind: 'analysis', text: 'Analysis' + (names.length ? ': ' + names.join(', ') : '') };
    }
    if (step.experiment) {
      const e = step.experiment;
      const ts = (e.templates || []).map((t) => t.name + (t.weight !== undefined ? ' ' + t.weight + '%' : ''));
      const an = (e.analyses || []).map((a) => a.templateName || a.name).filter(Boolean);
      return {
        kind: 'experiment',
        text: 'Experiment' + (ts.length ? ': ' + ts.join(', ') : '') + (e.duration ? ' for ' + e.duration : ''),
        detail: an.length ? 'analysis: ' + an.join(', ') : '',
      };
    }
    if (step.setCanaryScale) {
      const c = step.setCanaryScale;
      const what = c.matchTrafficWeight ? 'match traffic weight' : c.replicas !== undefined ? c.replicas + ' replicas' : c.weight !== undefined ? c.weight + '%' : '';
      return { kind: 'scale', text: 'Set canary scale' + (what ? ': ' + what : '') };
    }
    if (step.setHeaderRoute) {
      const hr = step.setHeaderRoute;
      return { kind: 'route', text: (hr.match ? 'Set header route ' : 'Remove header route ') + (hr.name || '') };
    }
    if (step.setMirrorRoute) {
      const mr = step.setMirrorRoute;
      return { kind: 'route', text: (mr.match ? 'Set mirror route ' : 'Remove mirror route ') + (mr.name || '') + (mr.match && mr.percentage !== undefined ? ' ' + mr.percentage + '%' : '') };
    }
    if (step.plugin) return { kind: 'plugin', text: 'Plugin ' + (step.plugin.name || '') };
    const k = Object.keys(step)[0];
    return { kind: 'unknown', text: k || '(empty step)' };
  }

  const STEP_ICONS = { weight: '⚖', pause: '‖', analysis: '∿', experiment: '⚗', scale: '⇅', route: '→', plugin: '⚙', unknown: '•' };

  function renderSteps(rollout, s) {
    const strategy = (rollout.spec && rollout.spec.strategy) || {};
    const steps = strategy.canary && Array.isArray(strategy.canary.steps) ? strategy.canary.steps : [];
    const status = rollout.status || {};
    const index = s.stepIndex === null || s.stepIndex === undefined ? null : s.stepIndex;
    // A pause step's time left, from the pause condition's start.
    const pauseStart = (status.pauseConditions || []).filter((p) => p && p.reason === 'CanaryPauseStep').map((p) => parseTime(p.startTime))[0];
    const view = steps.map((step, i) => {
      const d = describeStep(step);
      let note = '';
      if (i === index && d.kind === 'pause' && s.paused) {
        if (d.seconds !== null && d.seconds !== undefined && pauseStart) {
          note = fmtSpan(Math.max(0, d.seconds - (Date.now() / 1000 - pauseStart))) + ' left';
        } else note = 'paused';
      }
      const cls = index === null ? '' : i < index ? 'done' : i === index ? 'current' : '';
      return { i, d, cls, note, aborted: !!s.aborted && i === index };
    });
    if (changed('steps', view)) {
      $('#steps').replaceChildren(...view.map((v) =>
        h('li', { class: ['step', v.cls, v.aborted ? 'aborted' : ''].filter(Boolean).join(' '), dataset: { index: v.i, kind: v.d.kind }, title: v.d.detail || null },
          h('span', { class: 'step-icon', 'aria-hidden': 'true', text: STEP_ICONS[v.d.kind] || '•' }),
          h('span', { class: 'step-text', text: v.d.text }),
          v.note ? h('span', { class: 'step-note', text: v.note }) : null)));
    }
    const note = $('#steps-note');
    if (strategy.blueGreen) {
      const bg = strategy.blueGreen;
      note.hidden = false;
      setText(note, 'Blue-green: active service ' + (bg.activeService || DASH) +
        (bg.previewService ? ', preview service ' + bg.previewService : '') +
        (bg.autoPromotionEnabled === false ? '; promotion by hand' : ''));
    } else if (!steps.length) {
      note.hidden = false;
      setText(note, 'No steps: a new version goes straight to 100%.');
    } else note.hidden = true;
  }

  // ---------------------------------------------------------------- analysis runs

  function renderRuns(runs) {
    const sorted = runs.slice().sort((a, b) =>
      (parseTime(b.metadata && b.metadata.creationTimestamp) || 0) - (parseTime(a.metadata && a.metadata.creationTimestamp) || 0));
    $('#runs-empty').hidden = sorted.length > 0;
    // (redrawn at least every 10 s, for the ages)
    if (!changed('runs', [Math.floor(Date.now() / 10000), sorted])) return;
    $('#analysis-runs').replaceChildren(...sorted.map(renderRun));
  }

  function renderRun(run) {
    const meta = run.metadata || {};
    const spec = run.spec || {};
    const status = run.status || {};
    const phase = status.phase || 'Pending';
    const specMetrics = Array.isArray(spec.metrics) ? spec.metrics : [];
    const results = Array.isArray(status.metricResults) ? status.metricResults : [];
    const names = specMetrics.map((m) => m.name);
    for (const r of results) if (!names.includes(r.name)) names.push(r.name);

    return h('div', { class: 'run', dataset: { run: meta.name || '', phase } },
      h('div', { class: 'run-head' },
        badge(phase),
        h('span', { class: 'run-name', text: meta.name || '(unnamed)' }),
        h('span', { class: 'muted', title: fmtDateTime(meta.creationTimestamp), text: meta.creationTimestamp ? fmtAge(meta.creationTimestamp) + ' ago' : '' }),
        status.message ? h('span', { class: 'run-message', text: status.message }) : null),
      h('div', { class: 'metrics' },
        names.map((name) => renderMetric(specMetrics.find((m) => m.name === name) || { name }, results.find((r) => r.name === name) || null))));
  }

  function providerName(p) {
    if (!p || typeof p !== 'object') return '';
    return Object.keys(p).join(', ');
  }

  function renderMetric(m, r) {
    const phase = (r && r.phase) || 'Pending';
    const measurements = r && Array.isArray(r.measurements) ? r.measurements : [];
    const counts = [];
    if (r) {
      counts.push([r.successful || 0, 'successful', 'Successful']);
      if (r.failed) counts.push([r.failed, 'failed', 'Failed']);
      if (r.inconclusive) counts.push([r.inconclusive, 'inconclusive', 'Inconclusive']);
      if (r.error) counts.push([r.error, 'error', 'Error']);
    }
    const conds = [];
    if (m.successCondition) conds.push('success when ' + m.successCondition);
    if (m.failureCondition) conds.push('failure when ' + m.failureCondition);
    const limits = [];
    if (m.interval) limits.push('every ' + m.interval);
    if (m.count !== undefined) limits.push(m.count + ' measurements');
    if (m.failureLimit !== undefined) limits.push('failure limit ' + m.failureLimit);

    return h('div', { class: 'metric', dataset: { metric: m.name, phase } },
      h('div', { class: 'metric-head' },
        badge(phase, 'small'),
        h('span', { class: 'metric-name', text: m.name }),
        providerName(m.provider) ? h('span', { class: 'muted', text: providerName(m.provider) }) : null,
        h('span', { class: 'counts' },
          counts.map(([n, label, p]) => h('span', { class: 'count', dataset: { phase: p }, text: n + ' ' + label })))),
      conds.length || limits.length
        ? h('div', { class: 'metric-spec muted' },
          conds.length ? h('code', { text: conds.join(' · ') }) : null,
          limits.length ? h('span', { text: (conds.length ? ' · ' : '') + limits.join(', ') }) : null)
        : null,
      r && r.message ? h('div', { class: 'metric-message', text: r.message }) : null,
      h('div', { class: 'measurements' },
        measurements.length
          ? measurements.map((x) => {
            const p = x.phase || 'Running';
            const when = x.finishedAt || x.startedAt;
            return h('span', {
              class: 'measurement', dataset: { phase: p },
              title: [p, x.value !== undefined ? 'value ' + x.value : '', when ? fmtDateTime(when) : '', x.message || ''].filter(Boolean).join('\n'),
            }, h('span', { class: 'dot', 'aria-hidden': 'true' }), fmtValue(x.value));
          })
          : h('span', { class: 'muted', text: 'no measurements yet' })));
  }

  // ---------------------------------------------------------------- experiments, events

  function renderExperiments(list) {
    $('#experiments-card').hidden = list.length === 0;
    if (!changed('experiments', [Math.floor(Date.now() / 10000), list])) return;
    $('#rollout-experiments').replaceChildren(...list.map((e) => {
      const meta = e.metadata || {};
      const status = e.status || {};
      const phase = status.phase || 'Pending';
      const templates = (status.templateStatuses || []).map((t) =>
        h('span', { class: 'template', dataset: { phase: t.status || '' } },
          h('b', { text: t.name || '' }), ' ' + (t.status || '') +
          (t.availableReplicas !== undefined ? ' · ' + t.availableReplicas + '/' + (t.replicas !== undefined ? t.replicas : '?') + ' ready' : '')));
      const runs = (status.analysisRuns || []).map((a) =>
        h('span', { class: 'template', dataset: { phase: a.phase || '' } }, h('b', { text: a.name || a.analysisRun || '' }), ' ' + (a.phase || '')));
      return h('div', { class: 'experiment', dataset: { experiment: (meta.namespace || '') + '/' + (meta.name || ''), phase } },
        h('div', { class: 'run-head' },
          badge(phase),
          h('span', { class: 'run-name', text: meta.name || '' }),
          h('span', { class: 'muted', text: meta.creationTimestamp ? fmtAge(meta.creationTimestamp) + ' ago' : '' }),
          status.message ? h('span', { class: 'run-message', text: status.message }) : null),
        templates.length || runs.length ? h('div', { class: 'templates' }, templates, runs) : null);
    }));
  }

  function renderEvents(events) {
    const sorted = events.slice().sort((a, b) => (parseTime(b.time) || 0) - (parseTime(a.time) || 0));
    $('#events-empty').hidden = sorted.length > 0;
    if (!changed('events', sorted)) return;
    $('#events').replaceChildren(...sorted.map((e) => {
      const t = parseTime(e.time);
      const type = e.type === 'Warning' ? 'Warning' : 'Normal';
      return h('li', { class: 'event', dataset: { type } },
        h('time', { datetime: e.time || null, title: fmtDateTime(e.time), text: t === null ? DASH : fmtClock(t) }),
        h('span', { class: 'event-type', text: type }),
        h('span', { class: 'event-reason', text: e.reason || '' }),
        h('span', { class: 'event-message', text: e.message || '' }));
    }));
  }

  // ---------------------------------------------------------------- plots

  function destroyPlots() {
    for (const p of Object.values(state.plots)) {
      if (p.observer) p.observer.disconnect();
      if (p.u) p.u.destroy();
    }
    state.plots = {};
  }

  function sideColour(side) { return SIDE_COLOURS[side] || '#6e7781'; }

  function plotWidth(container) {
    return Math.max(280, Math.floor(container.clientWidth || 600));
  }

  // A side missing from a sample or two is joined over; a longer absence stays a gap.
  function bridgeShortGaps(u, seriesIdx, idx0, idx1, nullGaps) {
    const x0 = u.scales.x.min;
    if (x0 === null || x0 === undefined) return nullGaps;
    const px = Math.abs(u.valToPos(x0 + GAP_BRIDGE_S, 'x', true) - u.valToPos(x0, 'x', true));
    return nullGaps.filter((g) => g[1] - g[0] > px);
  }

  function createPlot(spec, container, sides) {
    const series = [{ value: (u, v) => (v === null || v === undefined ? DASH : fmtClock(v)) }];
    for (const side of sides) {
      for (const m of spec.metrics) {
        series.push({
          label: side + (spec.metrics.length > 1 ? ' ' + m.label : ''),
          stroke: sideColour(side),
          width: m.dash ? 1.5 : 2,
          dash: m.dash,
          spanGaps: false,
          gaps: bridgeShortGaps,
          points: { size: 4 },
          value: (u, v) => (v === null || v === undefined ? DASH : spec.fmt(v)),
        });
      }
    }
    const plot = { spec, sides: sides.slice(), sig: sides.join(','), marks: [], layer: null, xmin: 0, xmax: 1 };
    const axis = { stroke: '#57606a', grid: { stroke: '#eaeef2', width: 1 }, ticks: { stroke: '#d0d7de', width: 1 }, font: '11px system-ui, sans-serif' };
    const opts = {
      width: plotWidth(container),
      height: 190,
      series,
      legend: { show: true, live: true },
      cursor: { sync: { key: 'weir-plots' }, drag: { x: false, y: false }, points: { size: 6 } },
      scales: {
        x: { time: true, range: () => [plot.xmin, plot.xmax] },
        y: { range: spec.range },
      },
      axes: [
        Object.assign({}, axis, {
          space: 70,
          size: 32,
          values: (u, splits, ax, space, incr) => splits.map((t) => (incr % 60 === 0 ? fmtClock(t).slice(0, 5) : fmtClock(t))),
        }),
        Object.assign({}, axis, { size: 56, values: (u, vals) => vals.map((v) => (v === null ? '' : spec.tick(v))) }),
      ],
      hooks: { draw: [(u) => drawMarks(plot, u)] },
    };
    const empty = [[]];
    for (let i = 1; i < series.length; i++) empty.push([]);
    plot.u = new uPlot(opts, empty, container);
    if (typeof ResizeObserver === 'function') {
      let last = plotWidth(container);
      plot.observer = new ResizeObserver(() => {
        const w = plotWidth(container);
        if (w !== last) {
          last = w;
          plot.u.setSize({ width: w, height: 190 });
        }
      });
      plot.observer.observe(container);
    }
    return plot;
  }

  function markTitle(m) {
    const when = fmtClock(m.t);
    if (m.kind === 'weight') return when + ' · weights: ' + (m.text || '');
    return when + ' · ' + (m.run ? m.run + ' / ' : '') + (m.metric || 'measurement') + ': ' + (m.phase || '?') +
      (m.value !== undefined && m.value !== null && m.value !== '' ? ' (' + m.value + ')' : '');
  }

  function weightLabel(text) {
    const all = String(text || '').match(/\d+(\.\d+)?%/g);
    return all ? all[all.length - 1] : String(text || '');
  }

  // The marks, as thin lines over the plotting area (each with a title to hover).
  function drawMarks(plot, u) {
    if (!plot.layer || plot.layer.parentNode !== u.over) {
      plot.layer = h('div', { class: 'marks' });
      u.over.appendChild(plot.layer);
    }
    const els = [];
    for (const m of plot.marks) {
      const x = u.valToPos(m.t, 'x');
      if (!Number.isFinite(x)) continue;
      const el = h('div', {
        class: 'mark ' + (m.kind === 'weight' ? 'mark-weight' : 'mark-measurement'),
        title: markTitle(m),
        dataset: { kind: m.kind, phase: m.kind === 'weight' ? null : m.phase || 'Unknown' },
      }, m.kind === 'weight' ? h('span', { class: 'mark-label', text: weightLabel(m.text) }) : null);
      el.style.left = x + 'px';
      els.push(el);
    }
    plot.layer.replaceChildren(...els);
  }

  function renderSeries(series) {
    const points = series && Array.isArray(series.points)
      ? series.points.filter((p) => p && Number.isFinite(p.t)).sort((a, b) => a.t - b.t)
      : [];
    const sides = series && Array.isArray(series.sides) && series.sides.length
      ? SIDE_ORDER.filter((s) => series.sides.includes(s)).concat(series.sides.filter((s) => !SIDE_ORDER.includes(s)))
      : ['stable', 'canary'];
    const now = series && Number.isFinite(series.now) ? series.now : Date.now() / 1000;
    const marks = series && Array.isArray(series.marks) ? series.marks.filter((m) => m && Number.isFinite(m.t)) : [];

    // The time axis: from the oldest point or mark of the last 10 minutes to now.
    const floor = now - HISTORY_S;
    let xmin = now - MIN_SPAN_S;
    if (points.length) xmin = Math.min(xmin, points[0].t);
    for (const m of marks) if (m.t >= floor) xmin = Math.min(xmin, m.t);
    xmin = Math.max(xmin, floor);
    const xmax = Math.max(now, points.length ? points[points.length - 1].t : now);
    const shown = marks.filter((m) => m.t >= xmin && m.t <= xmax);

    const baseline = $('#key-baseline');
    if (baseline) baseline.hidden = !sides.includes('baseline');
    const spanEl = $('#plots-span');
    if (spanEl) setText(spanEl, 'last ' + fmtSpan(xmax - xmin) + (points.length ? ' · ' + points.length + ' samples' : ''));

    for (const spec of PLOTS) {
      const container = document.getElementById(spec.id);
      if (!container) continue;
      let plot = state.plots[spec.id];
      if (!plot || plot.sig !== sides.join(',')) {
        if (plot) {
          if (plot.observer) plot.observer.disconnect();
          plot.u.destroy();
        }
        plot = state.plots[spec.id] = createPlot(spec, container, sides);
      }
      const xs = points.map((p) => p.t);
      const data = [xs];
      const counts = {};
      for (const side of sides) {
        const has = new Array(points.length).fill(false);
        for (const m of spec.metrics) {
          const ys = points.map((p, i) => {
            const st = p.sides && p.sides[side];
            const v = st ? st[m.key] : null;
            if (v === null || v === undefined || !Number.isFinite(v)) return null;
            has[i] = true;
            return v * m.scale;
          });
          data.push(ys);
        }
        counts[side] = has.filter(Boolean).length;
      }
      plot.xmin = xmin;
      plot.xmax = xmax;
      plot.marks = shown;
      plot.u.setData(data);
      for (const side of SIDE_ORDER) {
        const attr = 'points' + side[0].toUpperCase() + side.slice(1);
        if (sides.includes(side)) container.dataset[attr] = String(counts[side] || 0);
        else delete container.dataset[attr];
      }
      container.dataset.marks = String(shown.length);
      const anyData = sides.some((s) => counts[s] > 0);
      const emptyEl = container.querySelector('.plot-empty');
      if (emptyEl) {
        emptyEl.hidden = anyData;
        setText(emptyEl, series ? 'No traffic measured yet' : 'No traffic data for this rollout');
      }
    }
  }

  // ---------------------------------------------------------------- start

  function start() {
    if (typeof uPlot !== 'function') console.error('uPlot did not load: the plots stay empty');
    const input = $('#token');
    input.value = state.token;
    // A form only for Enter and password managers: it never submits anywhere.
    $('#token-box').addEventListener('submit', (e) => {
      e.preventDefault();
      saveToken();
    });
    updateTokenBox();
    window.addEventListener('hashchange', route);
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
