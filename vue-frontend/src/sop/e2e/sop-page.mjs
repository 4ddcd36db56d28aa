#!/usr/bin/env node
// Browser test of the SOP page against a running server: log in as a manager, open /sop, open a draft SOP
// that already has targets, start it through the preview dialog (which must announce a non-zero number of
// messages), then watch the progress bars move live from `sop.progress` events until everything is sent.
// Uses playwright-core with a system Chromium; never downloads a browser.
//
// Pass: the total bar (`data-testid="sop-progress-total"`, numeric `data-percent`) was seen at 3 or more
// distinct increasing values, at least one of them strictly between 0 and 100, and reached 100 within
// SOP_TIMEOUT_MS (default 120 s) of the confirmation; every per-account bar (`sop-progress-<account_id>`)
// reached 100 as well. The sampled sequence (every 300 ms) is printed either way.
//
// Environment:
//   BASE_URL          console URL (default http://127.0.0.1:8000)
//   E2E_USERNAME      a manager (or admin)
//   E2E_PASSWORD      its password
//   SOP_ID            a SOP in status draft that already has targets
//   SCREENSHOT        optional: a PNG of the page is written there when a step fails
//   CHROMIUM_PATH     optional: default `command -v chromium`, else /usr/bin/chromium
//   E2E_TIMEOUT_MS    optional: per-step timeout (default 15000)
//   SOP_TIMEOUT_MS    optional: how long the SOP may take to be fully sent (default 120000)
//   SAMPLE_MS         optional: sampling interval of the bars (default 300)
import { e2eEnv, fail, loginInto, ok, runSteps, sel, waitConnected, withPage } from '../../../e2e/browser.mjs'

const { username: USERNAME, password: PASSWORD, screenshot: SCREENSHOT } = e2eEnv()
const SOP_ID = process.env.SOP_ID || ''
const SOP_TIMEOUT = Number(process.env.SOP_TIMEOUT_MS || 120000)
const SAMPLE_MS = Number(process.env.SAMPLE_MS || 300)

/** The page's test ids of the SOP feature (`data-testid`, as agreed with the backend's test). */
const tid = (id) => `[data-testid="${id}"]`

/** Every progress bar on the page: {total, accounts: {account_id: percent}} (null when not shown). */
function readBars() {
  const value = (el) => {
    const n = Number(el.getAttribute('data-percent'))
    return Number.isFinite(n) ? n : null
  }
  const total = document.querySelector('[data-testid="sop-progress-total"]')
  const accounts = {}
  for (const el of document.querySelectorAll('[data-testid^="sop-progress-"]')) {
    const id = el.getAttribute('data-testid').slice('sop-progress-'.length)
    if (id !== 'total') accounts[id] = value(el)
  }
  const status = document.querySelector('[data-testid="sop-status"]')?.getAttribute('data-status') ?? null
  return { total: total ? value(total) : null, accounts, status }
}

/** Runs of equal values compressed: `0 ×4, 12.5, 40 ×2, 100`. */
function compress(values) {
  const runs = []
  for (const v of values) {
    const last = runs[runs.length - 1]
    if (last && last.v === v) last.n += 1
    else runs.push({ v, n: 1 })
  }
  return runs.map(({ v, n }) => (n > 1 ? `${v ?? '–'} ×${n}` : `${v ?? '–'}`)).join(', ')
}

/** The strictly increasing chain of values as they were seen (a value lower than the last one is left out). */
function increasing(values) {
  const chain = []
  for (const v of values) if (v != null && (!chain.length || v > chain[chain.length - 1])) chain.push(v)
  return chain
}

async function main() {
  if (!USERNAME || !PASSWORD) fail('E2E_USERNAME and E2E_PASSWORD must be set')
  if (!SOP_ID) fail('SOP_ID must be set (a draft SOP that has targets)')

  await withPage({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1440, height: 1000 } }, SCREENSHOT, async (page) => {
    // 1. Log in as the manager, straight into the SOP page.
    await loginInto(page, { path: '/sop', pageId: 'sop-page', username: USERNAME, password: PASSWORD, what: 'the SOP page' })
    ok(`logged in as ${USERNAME}, SOP page visible at ${new URL(page.url()).pathname}`)

    // 2. The live connection is up, so no progress event can slip by after the start.
    await waitConnected(page)
    ok('live connection up')

    // 3. Open the SOP from its row; it is a draft, so it offers Start.
    const row = page.locator(tid(`sop-row-${SOP_ID}`))
    await row.waitFor({ state: 'visible' }).catch(() => fail(`no row sop-row-${SOP_ID} in the SOP list`))
    const rowName = (await row.locator('.sop__name').innerText().catch(() => '')).trim()
    await row.click()
    await page.locator(`${sel('sop-detail')}[data-sop-id="${SOP_ID}"]`).waitFor({ state: 'visible' }).catch(() => fail(`the detail of ${SOP_ID} did not open`))
    const status = await page.locator(tid('sop-status')).getAttribute('data-status')
    if (status !== 'draft') fail(`SOP ${SOP_ID} is ${status}, expected draft`)
    await page.locator(tid('sop-start')).waitFor({ state: 'visible' }).catch(() => fail('no sop-start button on the draft'))
    ok(`opened SOP ${SOP_ID} ("${rowName}"), status draft`)

    // 4. Start opens the preview dialog, which announces the messages to send.
    await page.locator(tid('sop-start')).click()
    const messages = page.locator(tid('sop-preview-messages'))
    await messages.waitFor({ state: 'visible' }).catch(() => fail('the preview dialog did not show the number of messages'))
    const total = Number(await messages.getAttribute('data-value'))
    if (!(total > 0)) fail(`the preview announces ${total} messages, expected more than 0`)
    const duration = (await page.locator(sel('sop-preview-duration')).innerText().catch(() => '')).trim()
    const warnings = await page.locator(sel('sop-preview-warning')).allInnerTexts().catch(() => [])
    ok(`preview: ${total} messages, estimated ${duration || '?'}${warnings.length ? `, warnings: ${warnings.map((w) => w.trim()).join(' | ')}` : ''}`)

    // 5. Confirm: the SOP runs (the dialog closes, Pause shows).
    await page.locator(tid('sop-preview-confirm')).click()
    const started = Date.now()
    await page.locator(tid('sop-preview-confirm')).waitFor({ state: 'hidden' }).catch(() => fail('the preview dialog stayed open after confirming'))
    await page.locator(tid('sop-progress-total')).waitFor({ state: 'attached' }).catch(() => fail('no sop-progress-total bar after starting'))
    ok('confirmed: the SOP started and shows its progress bars')

    // 6. Sample the bars until all reach 100 (or the time is up).
    const samples = []
    const accountSeries = {}
    let last = null
    while (Date.now() - started < SOP_TIMEOUT) {
      last = await page.evaluate(readBars)
      samples.push(last.total)
      for (const [id, value] of Object.entries(last.accounts)) (accountSeries[id] ??= []).push(value)
      const accountsDone = Object.keys(last.accounts).length > 0 && Object.values(last.accounts).every((v) => v === 100)
      if (last.total === 100 && accountsDone) break
      await page.waitForTimeout(SAMPLE_MS)
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    console.log(`# total bar (${samples.length} samples every ${SAMPLE_MS} ms over ${seconds} s): ${compress(samples)}`)
    for (const [id, series] of Object.entries(accountSeries)) console.log(`# account ${id}: ${compress(series)}`)

    const chain = increasing(samples)
    const between = samples.some((v) => v != null && v > 0 && v < 100)
    const drops = samples.filter((v, i) => i > 0 && v != null && samples[i - 1] != null && v < samples[i - 1]).length
    if (drops) console.log(`# note: the total bar went down ${drops} time(s)`)
    if (last?.total !== 100) fail(`the total bar did not reach 100 within ${SOP_TIMEOUT / 1000} s (last ${last?.total}, status ${last?.status})`)
    if (chain.length < 3) fail(`the total bar showed only ${chain.length} increasing value(s) (${chain.join(' → ')}), expected at least 3`)
    if (!between) fail('the total bar never showed a value strictly between 0 and 100')
    const ids = Object.keys(accountSeries)
    if (!ids.length) fail('no per-account progress bar (sop-progress-<account_id>) was shown')
    const unfinished = ids.filter((id) => last.accounts[id] !== 100)
    if (unfinished.length) fail(`account bar(s) not at 100: ${unfinished.map((id) => `${id}=${last.accounts[id]}`).join(', ')}`)
    ok(`the total bar rose ${chain.join(' → ')} and reached 100 in ${seconds} s; ${ids.length} account bar(s) reached 100 (status ${last.status})`)
  })
}

runSteps('sop-page', main)
