#!/usr/bin/env node
// Browser test of the sales workbench against a running server: log in as a sales user, open
// /conversations, wait for a handoff toast (a simulated customer writes "转人工"), open it, take the
// conversation over, send a message as a person, and release it back to the AI.
// Uses playwright-core with a system Chromium; never downloads a browser.
//
// Environment:
//   BASE_URL                 console URL (default http://127.0.0.1:8000)
//   E2E_USERNAME             a sales user
//   E2E_PASSWORD             its password
//   TRIGGER_URL              optional: POSTed once the page is loaded and live, to make the simulated
//                            customer write "转人工"
//   TRIGGER_BODY             optional: JSON body of that POST (e.g. a GeWe simulator /_sim/inject request)
//   SCREENSHOT               optional: a PNG of the page is written there when a step fails
//   CHROMIUM_PATH            optional: default `command -v chromium`, else /usr/bin/chromium
//   E2E_TIMEOUT_MS           optional: per-step timeout (default 15000)
//   E2E_HANDOFF_TIMEOUT_MS   optional: how long to wait for the handoff toast (default 60000)
import { STEP_TIMEOUT, e2eEnv, fail, loginInto, ok, runSteps, sel, waitConnected, withPage } from './browser.mjs'

const { username: USERNAME, password: PASSWORD, screenshot: SCREENSHOT } = e2eEnv()
const TRIGGER_URL = process.env.TRIGGER_URL || ''
const TRIGGER_BODY = process.env.TRIGGER_BODY || ''
const HANDOFF_TIMEOUT = Number(process.env.E2E_HANDOFF_TIMEOUT_MS || 60000)
const STAFF_TEXT = '您好，我是人工客服小李'

/** Wait until the chat header's mode tag reads `want`. */
async function expectMode(page, want) {
  await page
    .waitForFunction(
      ([s, w]) => document.querySelector(s)?.textContent?.trim() === w,
      [sel('chat-mode'), want],
      { timeout: STEP_TIMEOUT },
    )
    .catch(async () => {
      const got = await page.locator(sel('chat-mode')).first().innerText().catch(() => '(no chat-mode)')
      fail(`chat-mode should read "${want}", reads "${got.trim()}"`)
    })
}

async function main() {
  if (!USERNAME || !PASSWORD) fail('E2E_USERNAME and E2E_PASSWORD must be set')

  await withPage({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } }, SCREENSHOT, async (page) => {
    // 1. Log in as the sales user, straight into the workbench.
    await loginInto(page, { path: '/conversations', pageId: 'conversations-page', username: USERNAME, password: PASSWORD, what: 'the workbench' })
    ok(`logged in as ${USERNAME}, workbench visible at ${new URL(page.url()).pathname}`)

    // 2. The live connection is up, so no handoff event can slip by before the trigger.
    await waitConnected(page)
    await page.locator(sel('conversation-list')).waitFor({ state: 'visible' })
    ok('live connection up, conversation list visible')

    // 3. Make the simulated customer ask for a person.
    if (TRIGGER_URL) {
      const res = await fetch(TRIGGER_URL, TRIGGER_BODY ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: TRIGGER_BODY } : { method: 'POST' }).catch((err) => fail(`POST ${TRIGGER_URL} failed: ${err.message}`))
      if (!res.ok) fail(`POST ${TRIGGER_URL} answered HTTP ${res.status}`)
      ok(`triggered the handoff (POST ${TRIGGER_URL}: HTTP ${res.status})`)
    }

    // 4. The handoff toast shows up with the conversation and the reason.
    const toast = page.locator('.handoff-toast', { hasText: '转人工' }).last()
    await toast.waitFor({ state: 'visible', timeout: HANDOFF_TIMEOUT }).catch(() => fail(`no handoff-toast within ${HANDOFF_TIMEOUT / 1000} s`))
    const toastText = (await toast.innerText()).replace(/\s+/g, ' ').trim()
    ok(`handoff toast: "${toastText}"`)

    // 5. 查看 opens the conversation, waiting for a person.
    await toast.locator(sel('handoff-view')).click()
    await page.waitForURL(/\/conversations\?(.*&)?id=[^&]+/, { timeout: STEP_TIMEOUT }).catch(() => fail(`查看 did not open /conversations?id=…, at ${page.url()}`))
    const id = new URL(page.url()).searchParams.get('id')
    await page.locator(sel('chat-view')).locator(sel('chat-title')).waitFor({ state: 'visible' })
    await expectMode(page, '待人工')
    ok(`opened conversation ${id} ("${(await page.locator(sel('chat-title')).innerText()).trim()}"), mode 待人工`)

    // 5b. Markup a customer typed is shown as text, never run (the trigger carries an <img onerror> and a <script>).
    const hostile = page.locator(sel('message'), { hasText: '<img src=x onerror=' }).last()
    await hostile.waitFor({ state: 'visible' }).catch(() => fail('the customer message with markup is not shown as text'))
    const injected = await page.evaluate(() => ({ flag: window.__xss, images: document.querySelectorAll('img[src="x"]').length, scripts: [...document.scripts].filter((s) => s.text.includes('__xss')).length }))
    if (injected.flag !== undefined || injected.images || injected.scripts) fail(`customer markup became live: ${JSON.stringify(injected)}`)
    ok('customer markup shown as text: no image, no script, nothing ran')

    // 6. Take it over.
    await page.locator(sel('btn-takeover')).click()
    await expectMode(page, '人工接待')
    ok(`took over: mode 人工接待, ${(await page.locator(sel('chat-holder')).innerText()).trim()}`)

    // 7. Send as a person (Enter sends).
    const composer = page.locator(sel('composer-input'))
    await composer.fill(STAFF_TEXT)
    await composer.press('Enter')
    const staffMessage = page.locator(`${sel('message')}[data-sent-by="staff"]`, { hasText: STAFF_TEXT }).last()
    await staffMessage.waitFor({ state: 'visible' }).catch(() => fail(`no staff message "${STAFF_TEXT}" in the chat`))
    const status = await staffMessage.getAttribute('data-status')
    if (status === 'failed') {
      const error = await staffMessage.locator(sel('message-error')).innerText().catch(() => '')
      fail(`the staff message failed to send: ${error.trim()}`)
    }
    ok(`staff message shown (status ${status}): "${STAFF_TEXT}"`)

    // 8. Release it back to the AI.
    await page.locator(sel('btn-release')).click()
    await expectMode(page, 'AI 接待')
    ok('released: mode AI 接待')
  })
}

runSteps('workbench', main)
