// The dashboard page: follows the coordinator's snapshots over server-sent events
// (/api/v1/dashboard/events, read with fetch so that a bearer token can go with it) and draws them. Plain browser JavaScript, no build step; charts by
// uPlot (served from the project's node_modules). Every value from the cluster or from Kafka is
// put in the page as text, never as HTML.
'use strict';

(function dashboard() {
  const points = 300;
  const series = { t: [], in: [], out: [], p50: [], p95: [], p99: [], lag: [] };
  const owners = new Map();
  const seenResults = new Set();
  let charts;

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
      if (k === 'class') node.className = v;
      else node.setAttribute(k, String(v));
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? '' : String(c)));
    return node;
  };
  const fmt = (n, digits = 0) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits }));
  const bytes = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
  const time = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });

  function makeCharts() {
    const width = () => Math.max(320, $('chart-throughput').parentElement.clientWidth - 16);
    const opts = (names, colors) => ({
      width: width(), height: 170, legend: { live: false },
      scales: { x: { time: true } },
      axes: [{}, { size: 60 }],
      series: [{}, ...names.map((label, i) => ({ label, stroke: colors[i], width: 2, spanGaps: true }))],
    });
    charts = {
      throughput: new uPlot(opts(['in', 'out'], ['#2f6fdd', '#1f9d55']), [[], [], []], $('chart-throughput')),
      latency: new uPlot(opts(['p50', 'p95', 'p99'], ['#8a93a6', '#c98a00', '#d64545']), [[], [], [], []], $('chart-latency')),
      lag: new uPlot(opts(['lag'], ['#7a4fd6']), [[], []], $('chart-lag')),
    };
    window.addEventListener('resize', () => {
      for (const c of Object.values(charts)) c.setSize({ width: width(), height: 170 });
    });
  }

  function push(s) {
    series.t.push(s.atMs / 1000);
    series.in.push(s.throughput.inPerSec);
    series.out.push(s.throughput.outPerSec);
    series.p50.push(s.latency.p50);
    series.p95.push(s.latency.p95);
    series.p99.push(s.latency.p99);
    series.lag.push(s.lag);
    for (const a of Object.values(series)) a.splice(0, Math.max(0, a.length - points));
    charts.throughput.setData([series.t, series.in, series.out]);
    charts.latency.setData([series.t, series.p50, series.p95, series.p99]);
    charts.lag.setData([series.t, series.lag]);
  }

  function header(s) {
    $('job').textContent = s.job;
    const alive = s.workers.filter((w) => w.alive).length;
    const running = s.tasks.filter((t) => t.state === 'running').length;
    $('workers-pill').textContent = `${alive} worker${alive === 1 ? '' : 's'} alive`;
    $('tasks-pill').textContent = `${running} / ${s.tasks.length} tasks running`;
    $('tasks-pill').dataset.state = running === s.tasks.length && s.tasks.length > 0 ? 'live' : 'down';
    $('generation-pill').textContent = `generation ${s.generation}`;
    $('checkpoint-pill').textContent = `checkpoint ${s.checkpoints.latestCompleted}`;
    $('in-rate').textContent = fmt(s.throughput.inPerSec);
    $('out-rate').textContent = fmt(s.throughput.outPerSec);
    $('lag').textContent = fmt(s.lag);
    $('p95').textContent = fmt(s.latency.p95, 1);
    $('dead-letters').textContent = fmt(s.deadLetters.total);
    $('dlq-topic').textContent = s.deadLetters.topic;
  }

  function tasks(s) {
    const box = $('tasks');
    box.replaceChildren(...s.tasks.map((t) => {
      const before = owners.get(t.task);
      const moved = before !== undefined && before !== t.worker && t.worker !== null;
      owners.set(t.task, t.worker);
      const card = el('div', { class: `task${t.lastFailure ? ' failed' : ''}${moved ? ' moved' : ''}`, 'data-task': t.task, 'data-state': t.state, 'data-worker': t.worker ?? '' },
        el('div', { class: 'name' }, `task ${t.task} `, el('span', { class: 'note' }, t.state)),
        el('div', { class: 'owner' }, t.worker ?? 'unassigned'),
        el('div', { class: 'figures' }, `in ${fmt(t.inPerSec)}/s · out ${fmt(t.outPerSec)}/s`),
        el('div', { class: 'figures' }, `queue ${fmt(t.queueDepth)} · lag ${fmt(t.lag)}`));
      if (t.lastFailure) card.append(el('div', { class: 'failure' }, t.lastFailure));
      return card;
    }));
  }

  function workers(s) {
    $('workers').tBodies[0].replaceChildren(...s.workers.map((w) =>
      el('tr', { 'data-worker-id': w.id, 'data-alive': w.alive },
        el('td', {}, w.id),
        el('td', {}, w.alive ? (w.reachable ? 'alive' : 'alive, stats unreachable') : 'gone'),
        el('td', {}, w.pid), el('td', { class: 'text' }, w.endpoint), el('td', {}, w.tasks.join(', ')))));
  }

  function checkpoints(s) {
    $('checkpoints').tBodies[0].replaceChildren(...s.checkpoints.recent.slice(0, 10).map((c) =>
      el('tr', { 'data-checkpoint': c.id },
        el('td', {}, c.id),
        el('td', { class: `state-${c.state}` }, c.reason ? `${c.state}: ${c.reason}` : c.state),
        el('td', {}, c.state === 'pending' ? '' : `${fmt(c.durationMs)} ms`),
        el('td', {}, c.state === 'completed' ? bytes(c.bytes) : ''), el('td', {}, c.tasks))));
  }

  function rows(records, cells) {
    // On the first snapshot nothing is new: only what arrives while the page is open is marked.
    const first = seenResults.size === 0;
    return records.map((r) => {
      const id = `${r.topic}/${r.partition}/${r.offset}`;
      const row = el('tr', { class: first || seenResults.has(id) ? '' : 'fresh' }, ...cells(r));
      seenResults.add(id);
      return row;
    });
  }

  function results(s) {
    $('results').replaceChildren(...s.results.map((sink) => {
      // The newest record of each key: a window's revenue or a product's alert as it stands now.
      const keys = new Set();
      const records = sink.records.filter((r) => (r.key === null || !keys.has(r.key)) && keys.add(r.key)).map((r) => ({ ...r, topic: sink.topic }));
      const table = el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'time'), el('th', {}, 'key'), el('th', {}, 'value'))),
        el('tbody', {}, ...rows(records, (r) => [el('td', {}, time(r.timestampMs)), el('td', { class: 'text' }, r.key), el('td', { class: 'text' }, r.value)])));
      return el('div', { class: 'sink', 'data-sink': sink.sink }, el('h3', {}, `${sink.sink} `, el('span', { class: 'note' }, sink.topic)),
        records.length === 0 ? el('p', { class: 'note' }, 'no results yet') : table);
    }));
    const dead = s.deadLetters.recent.map((r) => ({ ...r, topic: s.deadLetters.topic }));
    $('dead-letter-list').tBodies[0].replaceChildren(...rows(dead, (r) => [
      el('td', {}, time(r.timestampMs)), el('td', {}, r.headers['eddy.dlq.reason'] ?? ''), el('td', {}, r.headers['eddy.dlq.field'] ?? ''),
      el('td', { class: 'text' }, r.headers['eddy.dlq.source'] ?? ''), el('td', { class: 'text' }, r.value)]));
  }

  function render(s) {
    header(s);
    push(s);
    tasks(s);
    workers(s);
    checkpoints(s);
    results(s);
    document.body.dataset.updatedAt = String(s.atMs);
  }

  function connection(state, text) {
    $('connection').textContent = text;
    $('connection').dataset.state = state;
  }

  // A cluster with bearer tokens: the page takes one from its address (#token=...) or asks for
  // it, keeps it for this tab only, and sends it with its requests (EventSource cannot).
  function token() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem('eddy-token', decodeURIComponent(match[1]));
      history.replaceState(null, '', location.pathname);
    }
    return sessionStorage.getItem('eddy-token');
  }

  function askToken(refused) {
    connection('down', refused);
    const input = el('input', { type: 'password', placeholder: 'bearer token', id: 'token-input', size: 24 });
    const form = el('form', { id: 'token-form' }, input, el('button', { type: 'submit' }, 'connect'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem('eddy-token', input.value.trim());
      form.remove();
      void follow();
    });
    document.querySelector('.pills').append(form);
  }

  // Server-sent events over fetch: one JSON snapshot per event; reconnects after a break.
  async function follow() {
    for (;;) {
      try {
        const t = token();
        const response = await fetch('/api/v1/dashboard/events', { headers: t ? { authorization: `Bearer ${t}` } : {} });
        if (response.status === 401 || response.status === 403) {
          askToken(response.status === 401 ? 'needs a token' : 'token refused');
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        connection('live', 'live');
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffered = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += value;
          for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
            const event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const data = event.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
            if (data) render(JSON.parse(data));
          }
        }
      } catch {
        // Connection lost: said below, then tried again.
      }
      connection('down', 'disconnected, retrying');
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  makeCharts();
  void follow();
})();
