// The local inspector: plain DOM, no framework, no network beyond this runtime (works offline).
'use strict';

const $ = (selector) => document.querySelector(selector);
// A logical id without CDK's 8-hex-digit hash (PaymentsQueueC485226B → PaymentsQueue).
const short = (id) => String(id).replace(/(?<=[a-z])[0-9A-F]{8}$/, '');

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function fillRows(table, rows) {
  const body = $(`${table} tbody`);
  body.replaceChildren(...rows.map((cells) => el('tr', {}, ...cells.map((cell) => el('td', { class: typeof cell === 'number' ? 'num' : undefined }, cell)))));
}

const LAYERS = [
  ['api', 'API replays'],
  ['ledger', 'ledger duplicates'],
  ['notifier', 'notifier dedup'],
];

async function refreshState() {
  const state = await getJson('/api/state');
  $('#stacks').textContent = state.stacks.join(', ');
  $('#recorder').textContent = `recorded ${state.recorder.recorded} events (ring of ${state.recorder.limit}${state.recorder.evicted ? `, ${state.recorder.evicted} evicted` : ''})`;
  const duplicates = state.duplicatesAbsorbed || {};
  const others = Object.keys(duplicates).filter((layer) => !LAYERS.some(([known]) => known === layer)).map((layer) => [layer, layer]);
  $('#duplicates').replaceChildren(
    ...[...LAYERS, ...others].map(([layer, label]) => el('div', { class: 'card', 'data-layer': layer }, el('b', {}, duplicates[layer] || 0), label)),
  );
  fillRows(
    '#queues',
    state.queues.map((q) => [el('span', { title: q.name }, short(q.logicalId) + (q.deadLetterFor ? ' (DLQ)' : '')), q.visible, q.inFlight, q.delayed, q.deadLetterQueue ? short(q.deadLetterQueue) : '']),
  );
  fillRows(
    '#functions',
    state.functions.map((f) => [el('span', { title: f.functionName }, short(f.logicalId)), f.invocations, f.errors, f.partial, f.cold]),
  );
}

async function refreshDeadLetters() {
  const queues = await getJson('/api/dlq');
  const container = $('#dlq');
  container.replaceChildren(
    ...queues.map((queue) =>
      el(
        'div',
        { class: 'dlq', 'data-queue': queue.queue },
        el('h3', { title: queue.queue }, `${short(queue.logicalId)} — dead letters of ${queue.deadLetterFor.map(short).join(', ')}: ${queue.messages.length}`),
        queue.messages.length === 0
          ? el('p', { class: 'empty' }, 'empty')
          : el(
              'table',
              {},
              el('thead', {}, el('tr', {}, el('th', {}, 'message'), el('th', {}, 'receives'), el('th', {}, 'reason'), el('th', {}, ''))),
              el(
                'tbody',
                {},
                ...queue.messages.map((m) =>
                  el(
                    'tr',
                    {},
                    el('td', {}, el('code', {}, m.messageId)),
                    el('td', { class: 'num' }, m.receiveCount),
                    el('td', {}, m.reason),
                    el('td', {}, el('a', { href: `#${encodeURIComponent(m.keys[1] || m.messageId)}` }, 'journey')),
                  ),
                ),
              ),
            ),
      ),
    ),
  );
}

function drawJourney(journey) {
  const container = $('#journey');
  if (journey.hops.length === 0) {
    container.replaceChildren(el('p', { class: 'empty', id: 'no-journey' }, `Nothing recorded for ${journey.key}.`));
    return;
  }
  const summary = el(
    'div',
    { class: 'summary' },
    ...Object.entries(journey.summary).map(([verdict, count]) => el('span', { class: `badge v-${verdict}`, 'data-verdict': verdict, 'data-count': count }, `${count} ${verdict}`)),
  );
  const hops = el(
    'ol',
    { class: 'hops' },
    ...journey.hops.map((hop) =>
      el(
        'li',
        { class: `hop v-${hop.verdict}`, 'data-verdict': hop.verdict, 'data-kind': hop.kind },
        el('span', { class: 'at' }, `+${Math.round(hop.at)} ms`),
        el('span', { class: `badge v-${hop.verdict}` }, hop.verdict),
        el('span', { class: 'where' }, hop.where),
        el('span', { class: 'what' }, hop.what + (hop.durationMs !== undefined ? ` (${Math.round(hop.durationMs)} ms)` : '')),
        hop.why ? el('span', { class: 'why' }, hop.why) : null,
      ),
    ),
  );
  container.replaceChildren(
    el('p', { class: 'muted' }, `${journey.hops.length} hops for ${journey.key} — keys: ${journey.keys.join(', ')} — `, el('a', { href: `/recording?key=${encodeURIComponent(journey.key)}` }, 'recording (JSONL)')),
    summary,
    hops,
  );
}

async function trace(key) {
  if (!key) return;
  $('#key').value = key;
  drawJourney(await getJson(`/api/journey?key=${encodeURIComponent(key)}`));
}

$('#search').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('#key').value.trim();
  if (location.hash.slice(1) === encodeURIComponent(key)) trace(key).catch(showError);
  else location.hash = encodeURIComponent(key);
});
window.addEventListener('hashchange', () => trace(decodeURIComponent(location.hash.slice(1))).catch(showError));

function showError(error) {
  $('#journey').replaceChildren(el('p', { class: 'empty' }, `inspector: ${error.message}`));
}

async function refresh() {
  await Promise.all([refreshState(), refreshDeadLetters()]).catch(() => {});
}

refresh();
setInterval(refresh, 1000);
if (location.hash.length > 1) trace(decodeURIComponent(location.hash.slice(1))).catch(showError);
