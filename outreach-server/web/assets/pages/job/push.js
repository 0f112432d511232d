// The job page's "Send to …" card for a finished job: pick a saved destination and a
// campaign (the saved one by default), start a push (POST /jobs/{id}/push), follow its
// counts about once a second (GET /jobs/{id}/pushes/{push}) until it ends, then show
// each row's result (pushed, skipped or rejected, with the reason) and the job's
// earlier pushes. Polling stops when the page is left (the page's AbortSignal).

import { api, ApiError, describe } from '../../api.js';
import { destinationName, needsCampaign } from '../../destinations.js';
import { alertBox, busy, clear, fill, fmtDateTime, fmtNumber, h, progressBar, setProgress, table } from '../../ui.js';

const POLL_MS = 1000;
const MAX_SHOWN_ROWS = 500;

const RESULT_LABELS = { pushed: 'Pushed', skipped: 'Skipped', rejected: 'Rejected' };
const PUSH_LABELS = { running: 'Sending', succeeded: 'Done', failed: 'Stopped' };

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

function counts(p) {
  return `${fmtNumber(p.pushed)} pushed · ${fmtNumber(p.skipped)} skipped · ${fmtNumber(p.rejected)} rejected`;
}

/** Why POST /push was refused, in the page's words (the API's code picks them). */
function pushRefusal(e, to) {
  const name = destinationName(to);
  if (e instanceof ApiError && e.code === 'destination_not_configured') {
    return [`No ${name} API key is saved. Save one in `, h('a', { href: '/settings' }, 'Settings'), ', then send again.'];
  }
  if (e instanceof ApiError && e.code === 'job_not_finished') return ['This job has no result to send yet: only a completed job can be sent.'];
  return [describe(e, `sending to ${name}`)];
}

/** The card; it loads the saved destinations and the job's pushes itself. */
export function pushPanel(job, { signal }) {
  const jobPath = `/jobs/${encodeURIComponent(job.id)}`;
  const error = alertBox('error');
  const toSelect = h('select', { id: 'push-to', name: 'to' });
  const campaignInput = h('input', { type: 'text', id: 'push-campaign', name: 'campaign', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'push-campaign-hint' });
  const campaignField = h('div', { class: 'field' },
    h('label', { for: 'push-campaign' }, 'Campaign ID'), campaignInput,
    h('p', { class: 'hint', id: 'push-campaign-hint' }, 'The saved default campaign unless you enter another.'));
  const start = h('button', { class: 'button', type: 'submit', id: 'push-start' }, 'Send');
  const setup = h('p', { id: 'push-setup', class: 'muted', hidden: true },
    'No destination is saved yet. ', h('a', { href: '/settings' }, 'Save an API key in Settings'), ' to send these rows to Instantly, Smartlead, lemlist or HubSpot.');
  const form = h('form', { novalidate: true, 'aria-describedby': 'push-about' },
    h('div', { class: 'grid' },
      h('div', { class: 'field' }, h('label', { for: 'push-to' }, 'Destination'), toSelect),
      campaignField),
    setup,
    h('div', { class: 'row' }, start));
  const bar = progressBar('Push progress');
  const statusText = h('p', { id: 'push-status-text', class: 'small' });
  const progress = h('div', { id: 'push-progress', class: 'progress-block', role: 'status', 'aria-live': 'polite', hidden: true }, statusText, bar);
  const pushError = h('div', { id: 'push-error', class: 'alert error', role: 'alert', hidden: true });
  const results = h('div', { id: 'push-results' });
  const history = h('div', { id: 'push-history' });
  const section = h('section', { class: 'card', id: 'push', 'aria-labelledby': 'push-h' },
    h('h2', { id: 'push-h' }, 'Send to a sequencer or CRM'),
    h('p', { class: 'muted', id: 'push-about' }, 'Pushes this job’s rows into a campaign, with the opener and drafts as custom fields. Rows on your do-not-contact list are skipped, and pushing again never adds a lead twice.'),
    error, form, progress, pushError, results, history);

  let destinations = [];
  let following = null; // the push id being followed
  let campaignEdited = false;

  const selected = () => destinations.find((d) => d.to === toSelect.value);

  function syncForm() {
    const d = selected();
    start.textContent = d ? `Send to ${destinationName(d.to)}` : 'Send';
    campaignField.hidden = !d || !needsCampaign(d.to);
    if (d && !campaignEdited) campaignInput.value = d.campaign || '';
    start.disabled = !d || following !== null;
  }

  function drawDestinations() {
    if (!destinations.length) {
      fill(toSelect, h('option', { value: '' }, 'No destination saved'));
      toSelect.disabled = true;
      campaignInput.disabled = true;
      setup.hidden = false;
      start.setAttribute('aria-describedby', 'push-setup');
    } else {
      fill(toSelect, destinations.map((d) => h('option', { value: d.to }, destinationName(d.to))));
      toSelect.disabled = false;
      campaignInput.disabled = false;
      setup.hidden = true;
      start.removeAttribute('aria-describedby');
    }
    syncForm();
  }

  toSelect.addEventListener('change', () => {
    campaignEdited = false;
    syncForm();
  });
  campaignInput.addEventListener('input', () => {
    campaignEdited = true;
  });

  function showProgress(p) {
    progress.hidden = false;
    const total = job.rows || 0;
    const percent = p.status === 'running' ? (total ? (100 * p.rows) / total : 0) : 100;
    setProgress(bar, percent, p.status === 'failed' ? 'failed' : p.status === 'succeeded' ? 'succeeded' : '');
    progress.dataset.status = p.status;
    const where = `${destinationName(p.to)}${p.campaign ? ` (campaign ${p.campaign})` : ''}`;
    const text = p.status === 'running'
      ? `Sending to ${where}… ${fmtNumber(p.rows)}${total ? ` of ${fmtNumber(total)}` : ''} rows · ${counts(p)}`
      : p.status === 'succeeded'
        ? `Sent to ${where}: ${fmtNumber(p.rows)} rows · ${counts(p)}.`
        : `The push to ${where} stopped after ${fmtNumber(p.rows)} rows · ${counts(p)}.`;
    if (statusText.textContent !== text) statusText.textContent = text;
    if (p.status === 'failed' && p.error) {
      fill(pushError, h('strong', {}, 'Error: '), p.error, '. ',
        /key/i.test(p.error) ? ['Check the key in ', h('a', { href: '/settings' }, 'Settings'), ', then send again.'] : 'Send again to finish: rows already sent are not added twice.');
      pushError.hidden = false;
    } else {
      pushError.hidden = true;
    }
  }

  function showResults(detail) {
    const rows = detail.results || [];
    const filter = h('select', { id: 'push-filter' },
      h('option', { value: '' }, `All rows (${fmtNumber(rows.length)})`),
      ['pushed', 'skipped', 'rejected'].map((s) =>
        h('option', { value: s }, `${RESULT_LABELS[s]} (${fmtNumber(rows.filter((r) => r.status === s).length)})`)));
    const body = h('div');
    const draw = () => {
      const shown = filter.value ? rows.filter((r) => r.status === filter.value) : rows;
      fill(body,
        shown.length > MAX_SHOWN_ROWS ? h('p', { class: 'small muted' }, `The first ${fmtNumber(MAX_SHOWN_ROWS)} of ${fmtNumber(shown.length)} rows.`) : null,
        shown.length
          ? table(['Row', 'Email', 'Result', 'Reason'], shown.slice(0, MAX_SHOWN_ROWS).map((r) =>
            h('tr', { 'data-row': r.row },
              h('td', { class: 'num' }, fmtNumber(r.row)),
              h('td', { class: 'email' }, r.email),
              h('td', { class: 'push-status', 'data-status': r.status }, RESULT_LABELS[r.status] || r.status),
              h('td', { class: 'reason' }, r.reason || ''))), { label: 'Result of each row', class: 'push-results' })
          : h('p', { class: 'muted' }, 'No rows.'));
    };
    filter.addEventListener('change', draw);
    draw();
    fill(results,
      h('h3', { id: 'push-results-h' }, `Rows of the push of ${fmtDateTime(detail.push.created_at)}`),
      h('div', { class: 'field' }, h('label', { for: 'push-filter' }, 'Show'), filter),
      body);
  }

  async function loadHistory() {
    let pushes;
    try {
      pushes = (await api(`${jobPath}/pushes`, { signal })).pushes || [];
    } catch (e) {
      if (e.name !== 'AbortError') fill(history, h('p', { class: 'alert error' }, describe(e, 'loading the earlier pushes')));
      return null;
    }
    if (!pushes.length) {
      clear(history);
      return pushes;
    }
    fill(history, h('h3', { id: 'push-history-h' }, 'Pushes of this job'),
      table(['Started', 'Destination', 'Campaign', 'Status', 'Pushed', 'Skipped', 'Rejected', h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Rows'))],
        pushes.map((p) => {
          const show = h('button', { class: 'button small quiet', type: 'button', 'aria-label': `Show the rows of the push of ${fmtDateTime(p.created_at)}`, disabled: p.status === 'running' }, 'Show rows');
          show.addEventListener('click', () => busy(show, () => showPush(p.id)));
          return h('tr', { 'data-push': p.id, 'data-status': p.status },
            h('td', {}, fmtDateTime(p.created_at)),
            h('td', {}, destinationName(p.to)),
            h('td', {}, p.campaign ? h('code', {}, p.campaign) : '—'),
            h('td', {}, PUSH_LABELS[p.status] || p.status),
            h('td', { class: 'num' }, fmtNumber(p.pushed)),
            h('td', { class: 'num' }, fmtNumber(p.skipped)),
            h('td', { class: 'num' }, fmtNumber(p.rejected)),
            h('td', {}, show));
        }), { label: 'Pushes of this job', class: 'push-history' }));
    return pushes;
  }

  /** One ended push's counts and rows. */
  async function showPush(pushId) {
    try {
      const detail = await api(`${jobPath}/pushes/${encodeURIComponent(pushId)}`, { signal });
      showProgress(detail.push);
      if (detail.push.status === 'running') follow(pushId);
      else showResults(detail);
    } catch (e) {
      if (e.name !== 'AbortError') error.show(describe(e, 'loading the push'));
    }
  }

  /** Polls a running push until it ends (or the page is left). */
  async function follow(pushId) {
    if (following) return;
    following = pushId;
    syncForm();
    clear(results);
    let failures = 0;
    try {
      while (!signal.aborted) {
        let detail;
        try {
          detail = await api(`${jobPath}/pushes/${encodeURIComponent(pushId)}`, { signal });
          failures = 0;
        } catch (e) {
          if (e.name === 'AbortError' || signal.aborted) return;
          failures += 1;
          if (failures >= 5) {
            error.show(describe(e, 'following the push'));
            return;
          }
          await sleep(POLL_MS * 2, signal);
          continue;
        }
        showProgress(detail.push);
        if (detail.push.status !== 'running') {
          showResults(detail);
          await loadHistory();
          return;
        }
        await sleep(POLL_MS, signal);
      }
    } finally {
      following = null;
      if (!signal.aborted) syncForm();
    }
  }

  async function send(d) {
    error.hide();
    const campaign = campaignInput.value.trim();
    if (needsCampaign(d.to) && !campaign) {
      error.show(`Enter the ${destinationName(d.to)} campaign ID to send to.`);
      campaignInput.focus();
      return;
    }
    start.disabled = true;
    start.classList.add('busy');
    start.setAttribute('aria-busy', 'true');
    let answer = null;
    try {
      answer = await api(`${jobPath}/push`, { method: 'POST', json: needsCampaign(d.to) ? { to: d.to, campaign } : { to: d.to }, signal });
    } catch (e) {
      if (e.name !== 'AbortError') error.show(...pushRefusal(e, d.to));
    } finally {
      start.classList.remove('busy');
      start.removeAttribute('aria-busy');
    }
    if (!answer) {
      syncForm();
      return;
    }
    showProgress(answer.push);
    loadHistory();
    // The button stays disabled until the push has ended (follow resets it).
    follow(answer.push.id);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const d = selected();
    if (d && !following && !start.disabled) send(d);
  });

  (async () => {
    try {
      destinations = (await api('/destinations', { signal })).destinations || [];
    } catch (e) {
      if (e.name === 'AbortError') return;
      destinations = [];
      error.show(describe(e, 'loading your destinations'));
    }
    drawDestinations();
    const pushes = await loadHistory();
    // A push still running (started earlier, or in another tab): follow it.
    const running = pushes?.find((p) => p.status === 'running');
    if (running) follow(running.id);
  })();

  return section;
}
