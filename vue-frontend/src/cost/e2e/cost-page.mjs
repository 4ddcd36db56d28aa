#!/usr/bin/env node
// Browser check of the finance page against a running server with real ledger data: log in as a finance
// user, open /cost, and expect the total, the ECharts canvases (spend by model, top accounts, budget gauges)
// drawn from the API's data, and the ledger rows the API holds.
//
// Environment: BASE_URL, E2E_USERNAME, E2E_PASSWORD, E2E_EXPECT_TOTAL (text of the total, e.g. ¥0.0063),
// E2E_EXPECT_ROWS (ledger rows), E2E_EXPECT_POINTS (data points of the spend chart: days x models),
// E2E_EXPECT_ACCOUNTS (bars of the top accounts chart), E2E_EXPECT_GAUGES (budget gauges), optional
// E2E_SCREENSHOT_DIR and CHROMIUM_PATH (default `command -v chromium`).
import { join } from 'node:path'
import { BASE_URL, launchChromium, sel } from '../../../e2e/browser.mjs'

/**
 * Wait until the ECharts container has finished rendering a canvas fed with `points` data points from the API,
 * then count the canvas' painted pixels (a blank canvas means nothing was drawn). Returns that count.
 */
async function checkChart(page, selector, points) {
  await page.waitForFunction(
    ([s, n]) => {
      const el = document.querySelector(s)
      return el?.getAttribute('data-rendered') === 'true' && el.getAttribute('data-points') === String(n) && el.querySelector('canvas')
    },
    [selector, points],
  )
  const painted = await page.locator(`${selector} canvas`).first().evaluate((canvas) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
    let n = 0
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++
    return n
  })
  if (painted < 100) throw new Error(`${selector}: canvas is blank (${painted} painted pixels)`)
  return painted
}

async function main() {
  const browser = await launchChromium()
  try {
    // China time, as the ledger's days are: the page's default range then ends on the rollups' today.
    const page = await browser.newPage({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1400, height: 1000 } })
    page.setDefaultTimeout(20000)
    await page.goto(`${BASE_URL}/login?redirect=/cost`)
    await page.locator(sel('login-username')).fill(process.env.E2E_USERNAME || '')
    await page.locator(sel('login-password')).fill(process.env.E2E_PASSWORD || '')
    await page.locator(sel('login-submit')).click()
    await page.locator(sel('cost-page')).waitFor({ state: 'visible' })
    await page.waitForFunction((want) => document.querySelector('[data-test="cost-total"]')?.textContent?.trim() === want, process.env.E2E_EXPECT_TOTAL)
    const charts = {
      spend: [sel('cost-chart-spend'), Number(process.env.E2E_EXPECT_POINTS || '1')],
      accounts: [sel('cost-chart-accounts'), Number(process.env.E2E_EXPECT_ACCOUNTS || '1')],
    }
    const drawn = {}
    for (const [name, [selector, points]] of Object.entries(charts)) drawn[name] = await checkChart(page, selector, points)
    const gauges = Number(process.env.E2E_EXPECT_GAUGES || '0')
    await page.waitForFunction((n) => document.querySelectorAll('[data-test="cost-gauge"] canvas').length === n, gauges)
    for (let i = 0; i < gauges; i++) await checkChart(page, `${sel('cost-gauge')}:nth-child(${i + 1}) .echart`, 1)
    const rows = Number(process.env.E2E_EXPECT_ROWS || '1')
    await page.waitForFunction((n) => document.querySelectorAll('[data-test="cost-ledger"] .el-table__body tbody tr').length === n, rows)
    if (process.env.E2E_SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.E2E_SCREENSHOT_DIR, 'cost.png'), fullPage: true })
    console.log(
      `ok - total ${process.env.E2E_EXPECT_TOTAL}, spend chart ${drawn.spend} painted px, top accounts ${drawn.accounts} px, ` +
        `${gauges} gauge(s), ${rows} ledger row(s)`,
    )
  } finally {
    await browser.close()
  }
}

main().catch((err) => {
  console.error(`not ok - ${err?.stack || err}`)
  process.exit(1)
})
