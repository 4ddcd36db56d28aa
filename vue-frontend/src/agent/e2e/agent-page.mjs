#!/usr/bin/env node
// Browser test of the store agent page against a running server with seeded retail data and the starter
// knowledge base: log in as a manager, open /agent, ask the three sample questions and publish the plan.
//   1. report:    the result table has rows (10 stores x 7 days) and the daily GMV trend is drawn (SVG line
//                 with one point per day);
//   2. diagnosis: the four sections show claims tagged (data) and (kb), with their evidence;
//   3. plan:      the plan card shows budget ¥30,000 and 7 days;
//   4. 执行上架:   the receipt shows a coupon id, published;
//   5. debug:     the switch shows the debug panel with the generated SQL.
// Uses playwright-core with a system Chromium; never downloads a browser.
//
// Environment:
//   BASE_URL          console URL (default http://127.0.0.1:8000)
//   E2E_USERNAME      a manager (or admin)
//   E2E_PASSWORD      its password
//   SCREENSHOT        optional: a PNG of the page is written there when a step fails
//   E2E_SCREENSHOT    optional: a PNG of the whole page is written there at the end
//   CHROMIUM_PATH     optional: default `command -v chromium`, else /usr/bin/chromium
//   E2E_TIMEOUT_MS    optional: per-step timeout (default 15000)
//   AGENT_TIMEOUT_MS  optional: how long one agent answer may take (default 60000)
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { e2eEnv, fail, loginInto, ok, runSteps, sel, withPage } from '../../../e2e/browser.mjs'

const { username: USERNAME, password: PASSWORD, screenshot: SCREENSHOT } = e2eEnv()
const FINAL_SCREENSHOT = process.env.E2E_SCREENSHOT || ''
const AGENT_TIMEOUT = Number(process.env.AGENT_TIMEOUT_MS || 60000)
const REPORT_DAYS = 7
const STORES = 10

/** The turn that asked `question` (turns are listed newest first, so position is no handle). */
const turnOf = (page, question) => page.locator(sel('agent-turn')).filter({ has: page.locator('.agent-turn__query', { hasText: question }) })

/** Click a sample question and wait for its answer; returns the turn and the answer's intent. */
async function askSample(page, index, wantIntent) {
  const button = page.locator(sel(`agent-sample-${index}`))
  const question = (await button.innerText()).trim()
  const turns = page.locator(sel('agent-turn'))
  const before = await turns.count()
  const answered = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/agent/chat', { timeout: AGENT_TIMEOUT })
  await button.click()
  const res = await answered.catch(() => fail(`no answer to "${question}" within ${AGENT_TIMEOUT / 1000} s`))
  if (!res.ok()) fail(`"${question}": POST /api/agent/chat answered HTTP ${res.status()}: ${await res.text()}`)
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length > n, [sel('agent-turn'), before])
  const turn = turnOf(page, question)
  if ((await turn.count()) !== 1) fail(`expected one turn asking "${question}", found ${await turn.count()}`)
  const tag = turn.locator('.agent-turn__meta .el-tag')
  await tag.waitFor({ state: 'visible' }).catch(() => fail(`the answer to "${question}" is not shown`))
  const intent = (await tag.innerText()).trim()
  if (intent !== wantIntent) fail(`"${question}" was answered as ${intent}, expected ${wantIntent}`)
  const newest = (await page.locator(sel('agent-turn')).first().locator('.agent-turn__query').innerText()).trim()
  if (!newest.includes(question)) fail(`the newest turn asks "${newest}", not "${question}"`)
  return { turn, question, body: await res.json() }
}

async function main() {
  if (!USERNAME || !PASSWORD) fail('E2E_USERNAME and E2E_PASSWORD must be set')

  await withPage({ locale: 'zh-CN', viewport: { width: 1440, height: 1000 } }, SCREENSHOT, async (page) => {
    // 1. Log in as the manager, straight into the agent page.
    await loginInto(page, { path: '/agent', pageId: 'agent-page', username: USERNAME, password: PASSWORD, what: 'the agent page' })
    ok(`logged in as ${USERNAME}, agent page visible at ${new URL(page.url()).pathname}`)

    // 2. The report sample: a table of stores x days and the daily trend line.
    const report = await askSample(page, 0, 'report')
    const table = report.turn.locator(sel('agent-report'))
    await table.waitFor({ state: 'visible' }).catch(() => fail('no result table for the report'))
    const headers = (await table.locator('thead th').allInnerTexts()).map((h) => h.trim()).filter(Boolean)
    for (const want of ['日期', '门店', 'GMV']) if (!headers.some((h) => h.includes(want))) fail(`the report table has no ${want} column (columns: ${headers.join(', ')})`)
    const rows = await table.locator('tbody tr').count()
    const apiRows = report.body.report?.rows?.length ?? 0
    if (rows < REPORT_DAYS * STORES || rows !== apiRows) fail(`the report table shows ${rows} rows, the API answered ${apiRows}, expected ${REPORT_DAYS * STORES}`)
    const firstRow = (await table.locator('tbody tr').first().locator('td').allInnerTexts()).map((c) => c.trim())
    if (!firstRow.every((c) => c)) fail(`the first report row has empty cells: ${JSON.stringify(firstRow)}`)
    const trend = report.turn.locator(sel('agent-trend'))
    await trend.waitFor({ state: 'visible' }).catch(() => fail('no trend chart for the report'))
    const drawn = await trend.evaluate((svg) => {
      const line = svg.querySelector('polyline')
      const points = (line?.getAttribute('points') ?? '').trim().split(/\s+/).filter(Boolean)
      const box = svg.getBoundingClientRect()
      const lineBox = line?.getBBox()
      return {
        points: points.length,
        finite: points.every((p) => p.split(',').every((v) => Number.isFinite(Number(v)))),
        dots: svg.querySelectorAll('circle').length,
        width: Math.round(box.width),
        height: Math.round(box.height),
        lineHeight: lineBox ? Math.round(lineBox.height) : 0,
        labels: [...svg.querySelectorAll('text')].map((t) => t.textContent.trim()),
      }
    })
    if (drawn.points !== REPORT_DAYS || drawn.dots !== REPORT_DAYS || !drawn.finite) fail(`the trend line is not one point per day: ${JSON.stringify(drawn)}`)
    if (drawn.width < 200 || drawn.height < 50 || drawn.lineHeight <= 0) fail(`the trend chart is not drawn at a visible size: ${JSON.stringify(drawn)}`)
    ok(`report: ${rows} rows (${headers.join(' | ')}), first ${firstRow.join(' | ')}; trend ${drawn.points} points ${drawn.labels.join(' → ')}, ${drawn.width}x${drawn.height}px`)

    // 3. The diagnosis sample: four sections, claims backed by data and by the knowledge base.
    const diagnosis = await askSample(page, 1, 'diagnose')
    const sections = diagnosis.turn.locator(sel('agent-diagnosis'))
    const titles = (await sections.locator('h4').allInnerTexts()).map((s) => s.trim())
    if (titles.join('/') !== '发现/原因假设/验证/下一步') fail(`diagnosis sections: ${titles.join('/')}`)
    const sources = (await sections.locator('li .el-tag').allInnerTexts()).map((s) => s.trim())
    const dataClaims = sources.filter((s) => s === '(data)').length
    const kbClaims = sources.filter((s) => s === '(kb)').length
    if (!dataClaims || !kbClaims) fail(`the diagnosis needs (data) and (kb) claims, found ${JSON.stringify(sources)}`)
    const firstData = (await sections.locator('li', { has: page.locator('.el-tag', { hasText: '(data)' }) }).first().innerText()).replace(/\s+/g, ' ').trim()
    const firstKb = (await sections.locator('li', { has: page.locator('.el-tag', { hasText: '(kb)' }) }).first().innerText()).replace(/\s+/g, ' ').trim()
    // The evidence behind the claims: the SQL queries and the knowledge passages.
    await diagnosis.turn.locator('.agent-evidence .el-collapse-item__header').click()
    const evidence = diagnosis.turn.locator('.agent-evidence__item')
    await evidence.first().waitFor({ state: 'visible' }).catch(() => fail('the evidence panel does not open'))
    const evidenceText = await diagnosis.turn.locator('.agent-evidence').innerText()
    if (!/SELECT/i.test(evidenceText)) fail('the evidence shows no SQL')
    const kbRefs = (diagnosis.body.evidence?.knowledge ?? []).map((k) => k.ref)
    if (!kbRefs.length || !kbRefs.every((ref) => evidenceText.includes(ref))) fail(`the evidence does not show the knowledge passages ${JSON.stringify(kbRefs)}`)
    ok(`diagnosis: ${dataClaims} (data) and ${kbClaims} (kb) claims, e.g. "${firstData}" / "${firstKb}"; evidence: ${await evidence.count()} items (${kbRefs.join(', ')})`)

    // 4. The plan sample: the plan card with budget 30000 over 7 days.
    const plan = await askSample(page, 2, 'plan')
    const card = plan.turn.locator(sel('agent-plan'))
    await card.waitFor({ state: 'visible' }).catch(() => fail('no plan card'))
    const field = async (label) => {
      const cell = card.locator('.el-descriptions__label', { hasText: label }).first()
      return (await cell.locator('xpath=following-sibling::*[1]').innerText()).trim()
    }
    const budget = await field('预算')
    const duration = await field('周期')
    if (budget.replace(/[^\d]/g, '') !== '30000') fail(`the plan's budget reads "${budget}", expected ¥30,000`)
    if (duration !== '7 天') fail(`the plan's duration reads "${duration}", expected 7 天`)
    ok(`plan: 预算 ${budget}, 周期 ${duration}, 优惠 ${await field('优惠')}, 目标人群 ${await field('目标人群')}`)

    // 5. 执行上架: the receipt with the coupon id, published.
    const executed = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/agent/execute', { timeout: AGENT_TIMEOUT })
    await card.locator(sel('agent-execute')).click()
    const executeRes = await executed.catch(() => fail('执行上架 sent no POST /api/agent/execute'))
    if (!executeRes.ok()) fail(`POST /api/agent/execute answered HTTP ${executeRes.status()}: ${await executeRes.text()}`)
    const execution = (await executeRes.json()).execution
    const receipt = card.locator(sel('agent-receipt'))
    await receipt.waitFor({ state: 'visible' }).catch(() => fail('no receipt after 执行上架'))
    const receiptField = async (label) =>
      (await receipt.locator('.el-descriptions__label', { hasText: label }).first().locator('xpath=following-sibling::*[1]').innerText()).trim()
    const couponId = await receiptField('优惠券 ID')
    const status = await receiptField('发布状态')
    if (!/^\d+$/.test(couponId) || String(execution.coupon_id) !== couponId) fail(`the receipt's coupon id reads "${couponId}" (API: ${execution.coupon_id}, error: ${execution.error})`)
    if (status !== 'published') fail(`the receipt's publish status reads "${status}" (error: ${execution.error})`)
    ok(`receipt: 优惠券 ID ${couponId}, 发布状态 ${status}, 幂等键 ${await receiptField('幂等键')}`)

    // 6. The debug switch shows each answer's debug record with the SQL it ran.
    if (await page.locator(sel('agent-debug')).count()) fail('debug panels show before the switch is on')
    await page.locator(sel('agent-debug-toggle')).click()
    const debug = page.locator(sel('agent-debug'))
    await debug.first().waitFor({ state: 'visible' }).catch(() => fail('no debug panel after switching debug on'))
    const panels = await debug.count()
    if (panels !== 3) fail(`expected a debug panel per answer (3), found ${panels}`)
    const reportDebug = await report.turn.locator(sel('agent-debug')).innerText()
    const parsed = JSON.parse(reportDebug)
    const strings = (value) => (typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [])
    const sqls = strings(parsed.sql).filter((text) => /\bSELECT\b/i.test(text) && /\bretail\./.test(text))
    if (!sqls.length) fail(`the report's debug shows no SQL on the retail schema (debug keys: ${Object.keys(parsed).join(', ')}; sql: ${JSON.stringify(parsed.sql)?.slice(0, 300)})`)
    ok(`debug on: ${panels} panels; report SQL (${Object.keys(parsed.sql).join(', ')}): ${sqls[0].replace(/\s+/g, ' ').slice(0, 100)}…`)

    if (FINAL_SCREENSHOT) {
      mkdirSync(dirname(FINAL_SCREENSHOT), { recursive: true })
      await page.screenshot({ path: FINAL_SCREENSHOT, fullPage: true })
      console.log(`# screenshot: ${FINAL_SCREENSHOT}`)
    }
  })
}

runSteps('agent-page', main)
