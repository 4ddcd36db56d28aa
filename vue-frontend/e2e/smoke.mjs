#!/usr/bin/env node
// Browser smoke test of the console: login page, wrong password, right password, dashboard,
// live connection. Uses playwright-core with a system Chromium; never downloads a browser.
//
// Environment:
//   BASE_URL            console URL (default http://127.0.0.1:8000)
//   E2E_USERNAME        a user that can log in
//   E2E_PASSWORD        its password
//   E2E_SCREENSHOT_DIR  optional: login.png and dashboard.png are written there
//   CHROMIUM_PATH       optional: default `command -v chromium`, else /usr/bin/chromium
//   E2E_TIMEOUT_MS      optional: per-step timeout (default 15000)
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { BASE_URL, STEP_TIMEOUT, fail, launchChromium, ok, runSteps, sel } from './browser.mjs'

const USERNAME = process.env.E2E_USERNAME || ''
const PASSWORD = process.env.E2E_PASSWORD || ''
const SHOT_DIR = process.env.E2E_SCREENSHOT_DIR || ''

async function main() {
  if (!USERNAME || !PASSWORD) fail('E2E_USERNAME and E2E_PASSWORD must be set')
  if (SHOT_DIR) mkdirSync(SHOT_DIR, { recursive: true })

  const browser = await launchChromium()
  try {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    page.setDefaultTimeout(STEP_TIMEOUT)
    const consoleErrors = []
    page.on('pageerror', (err) => consoleErrors.push(String(err)))

    // 1. The root redirects a logged-out visitor to the login page.
    const response = await page.goto(`${BASE_URL}/`, { waitUntil: 'domcontentloaded' }).catch((err) => fail(`cannot open ${BASE_URL}/: ${err.message}`))
    if (response && !response.ok()) fail(`GET ${BASE_URL}/ answered HTTP ${response.status()}`)
    await page.waitForURL(/\/login(\?|$)/, { timeout: STEP_TIMEOUT }).catch(() => fail(`expected a redirect to /login, stayed on ${page.url()}`))
    await page.locator(sel('login-form')).waitFor({ state: 'visible' }).catch(() => fail('login form not visible'))
    await page.getByText('登录', { exact: true }).first().waitFor({ state: 'visible' }).catch(() => fail('the text "登录" is not visible on the login page'))
    ok(`redirected to ${new URL(page.url()).pathname} and "登录" is visible`)
    if (SHOT_DIR) {
      await page.screenshot({ path: join(SHOT_DIR, 'login.png'), fullPage: true })
      ok(`screenshot ${join(SHOT_DIR, 'login.png')}`)
    }

    // 2. A wrong password shows the error under the form.
    await page.locator(sel('login-username')).fill(USERNAME)
    await page.locator(sel('login-password')).fill(`${PASSWORD}-wrong-${Date.now()}`)
    await page.locator(sel('login-submit')).click()
    const error = page.locator(sel('login-error'))
    await error.waitFor({ state: 'visible' }).catch(() => fail('no login-error shown after a wrong password'))
    ok(`wrong password shows an error: "${(await error.innerText()).trim()}"`)

    // 3. The right password leads to the dashboard with a welcome line naming the user.
    await page.locator(sel('login-username')).fill(USERNAME)
    await page.locator(sel('login-password')).fill(PASSWORD)
    await page.locator(sel('login-submit')).click()
    await page.locator(sel('dashboard')).waitFor({ state: 'visible' }).catch(async () => {
      const err = await error.isVisible().catch(() => false) ? (await error.innerText()).trim() : ''
      fail(`dashboard not visible after logging in${err ? ` (login error: "${err}")` : ''}`)
    })
    const welcome = (await page.locator(sel('dashboard-welcome')).innerText()).trim()
    const meName = await page.evaluate(() => {
      try {
        const u = JSON.parse(localStorage.getItem('salesbot.user') || 'null')
        return u ? u.display_name || u.username : null
      } catch {
        return null
      }
    })
    if (!welcome.includes(USERNAME) && !(meName && welcome.includes(meName))) {
      fail(`dashboard-welcome "${welcome}" names neither "${USERNAME}" nor the display name "${meName}"`)
    }
    ok(`dashboard visible: "${welcome}"`)

    // 4. The live connection comes up.
    const indicator = page.locator(sel('connection-indicator'))
    await page
      .waitForSelector(`${sel('connection-indicator')}[data-status="connected"]`, { timeout: 15000 })
      .catch(async () => {
        const status = await indicator.getAttribute('data-status').catch(() => null)
        fail(`connection-indicator did not reach data-status=connected within 15 s (last: ${status})`)
      })
    ok(`connection indicator connected: "${(await indicator.innerText()).trim()}"`)
    if (SHOT_DIR) {
      await page.screenshot({ path: join(SHOT_DIR, 'dashboard.png'), fullPage: true })
      ok(`screenshot ${join(SHOT_DIR, 'dashboard.png')}`)
    }
    if (consoleErrors.length) console.log(`# page errors seen: ${consoleErrors.join(' | ')}`)
    await context.close()
  } finally {
    await browser.close()
  }
}

runSteps('smoke', main)
