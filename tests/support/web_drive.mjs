// Drives the design page (examples/web) in headless Chromium for tests/serving/test_web.py.
//
//   node tests/support/web_drive.mjs REQUEST.json
//
// REQUEST: {url, chromium, playwright (a file inside examples/web, to resolve
// playwright-core from), designs: [{name, model, fields}], bad: [{name, model, fields}],
// screenshot: {path, model, fields}, corruptModel, intervalSurrogate: {path, model, fields},
// noSurrogate: {model, fields}, goals: [{name, model, fields}] (in a fresh page: goal
// requests, fields such as aim, goal-0, objective-0-sense)}. `fields` maps form element ids
// to values (goal rows beyond the page's first ones are added with its button). Prints one JSON
// object: the form as the page opens (values and placeholders), what the page showed for
// each step, every console message and every uncaught page error.

import fs from "node:fs";
import { createRequire } from "node:module";

const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(request.playwright)("playwright-core");

const consoleMessages = [];
const pageErrors = [];
const TIMEOUT = 30000;

async function selectModel(page, model) {
  await page.evaluate(() => { delete document.body.dataset.model; });
  await page.selectOption("#model", model);
  await page.waitForFunction((m) => document.body.dataset.model === m, model, { timeout: TIMEOUT });
}

async function fill(page, fields) {
  // Goal rows beyond the page's first ones come from its button; then every field is set in
  // one call, with the input and change events a user's typing or choosing sends.
  for (const id of Object.keys(fields)) {
    while (/^goal-\d+$/.test(id) && !(await page.$(`#${id}`))) await page.click("#add-goal");
  }
  await page.evaluate((entries) => {
    for (const [id, value] of entries) {
      const el = document.getElementById(id);
      if (!el) throw new Error(`no form field #${id}`);
      if (el.tagName === "SELECT" && !Array.from(el.options).some((o) => o.value === String(value))) {
        throw new Error(`#${id} has no option ${value}`);
      }
      el.value = String(value);
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }, Object.entries(fields));
}

async function press(page) {
  await page.evaluate(() => { document.body.dataset.state = ""; });
  await page.click("#design");
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: TIMEOUT });
  return page.evaluate(() => document.body.dataset.state);
}

async function shown(page) {
  return page.evaluate(async () => {
    const visible = (id) => !document.getElementById(id).hidden;
    const out = {
      state: document.body.dataset.state,
      message: visible("message") ? document.getElementById("message").textContent : null,
      warnings: visible("warnings") ? Array.from(document.querySelectorAll("#warnings li"), (li) => li.textContent) : [],
      resultsShown: visible("results"),
    };
    if (out.state !== "done") return out;
    out.ms = Number(document.body.dataset.ms);
    out.timing = document.getElementById("timing").textContent;
    out.summary = document.getElementById("summary").textContent;
    out.header = Array.from(document.querySelectorAll("#designs thead th"), (th) => th.textContent);
    out.rows = Array.from(document.querySelectorAll("#designs tbody tr"), (tr) => ({
      index: Number(tr.dataset.index),
      k: tr.dataset.k.split(",").map(Number),
      cells: Array.from(tr.children, (td) => td.textContent),
    }));
    out.circles = document.querySelectorAll("#plot circle.design").length;
    out.targets = document.querySelectorAll("#plot .target").length;
    out.plotTitles = Array.from(document.querySelectorAll("#plot circle.design title"), (t) => t.textContent);
    const link = document.getElementById("download");
    out.download = link.getAttribute("download");
    out.csv = link.href.startsWith("blob:") ? await (await fetch(link.href)).text() : null;
    return out;
  });
}

const browser = await chromium.launch({ executablePath: request.chromium, headless: true, args: ["--no-sandbox"] });
const result = { designs: [], bad: [], corrupt: null, screenshot: null };
// One browser context for every page: the fresh pages below start with no models in their
// own memory (the page's cache), and share the context's HTTP cache of the page's files
// and onnxruntime-web (pages with a routed request bypass it).
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
try {
  const open = async (messages = consoleMessages, errors = pageErrors) => {
    const p = await context.newPage();
    p.on("console", (m) => messages.push({ type: m.type(), text: m.text() }));
    p.on("pageerror", (e) => errors.push(String(e && e.message ? e.message : e)));
    return p;
  };
  const page = await open();
  const loadStart = Date.now();
  await page.goto(request.url, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  result.readyMs = Date.now() - loadStart;
  result.models = await page.$$eval("#model option", (options) => options.map((o) => o.value));
  result.initialMessage = await page.evaluate(() => (document.getElementById("message").hidden ? null : document.getElementById("message").textContent));
  result.initialFields = await page.$$eval("#form input, #form select", (inputs) => Object.fromEntries(
    inputs.map((el) => [el.id, { value: el.value, placeholder: el.getAttribute("placeholder") }])));

  for (const step of request.designs) {
    await selectModel(page, step.model);
    result.designs.push({ name: step.name, labels: await page.$$eval("#targets label", (ls) => ls.map((l) => l.firstChild.textContent)) });
    await fill(page, step.fields);
    await press(page);
    Object.assign(result.designs.at(-1), await shown(page));
  }

  for (const step of request.bad) {
    await selectModel(page, step.model);
    await fill(page, step.fields);
    await press(page);
    result.bad.push({ name: step.name, ...(await shown(page)), buttonEnabled: await page.$eval("#design", (b) => !b.disabled) });
  }

  if (request.screenshot) {
    await selectModel(page, request.screenshot.model);
    await fill(page, request.screenshot.fields);
    await press(page);
    result.screenshot = await shown(page);
    await page.screenshot({ path: request.screenshot.path, fullPage: true });
  }

  // A model file that does not load, in a fresh page (the first page has the models cached).
  if (request.corruptModel) {
    const fresh = await open();
    await fresh.route(`**/exported/${request.corruptModel}.onnx`, (route) =>
      route.fulfill({ status: 200, contentType: "application/octet-stream", body: "not an onnx model" }));
    await fresh.goto(request.url, { waitUntil: "load" });
    await fresh.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    await selectModel(fresh, request.corruptModel);
    const afterLoad = await shown(fresh);
    const state = await press(fresh);
    result.corrupt = { afterLoad, state, ...(await shown(fresh)) };
  }

  // A surrogate that outputs an interval (properties_lower/upper, metadata coverage).
  if (request.intervalSurrogate) {
    const fresh = await open();
    await fresh.route("**/exported/surrogate.onnx", (route) =>
      route.fulfill({ status: 200, contentType: "application/octet-stream", path: request.intervalSurrogate.path }));
    await fresh.goto(request.url, { waitUntil: "load" });
    await fresh.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    await selectModel(fresh, request.intervalSurrogate.model);
    await fill(fresh, request.intervalSurrogate.fields);
    await press(fresh);
    result.interval = await shown(fresh);
  }

  // No surrogate.onnx: the designs are not judged.
  if (request.noSurrogate) {
    // Its console is kept apart: the browser reports the 404 of the missing file there.
    const messages = [];
    const errors = [];
    const fresh = await open(messages, errors);
    await fresh.route("**/exported/surrogate.onnx", (route) => route.fulfill({ status: 404, body: "not found" }));
    await fresh.goto(request.url, { waitUntil: "load" });
    await fresh.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    await selectModel(fresh, request.noSurrogate.model);
    await fill(fresh, request.noSurrogate.fields);
    await press(fresh);
    result.noSurrogate = { ...(await shown(fresh)), plotHidden: await fresh.$eval("#plot", (el) => getComputedStyle(el).display === "none"), console: messages, pageErrors: errors };
  }

  // Goal requests (docs/DESIGN_ENGINE.md, section 7), in a fresh page.
  if (request.goals && request.goals.length) {
    const fresh = await open();
    await fresh.goto(request.url, { waitUntil: "load" });
    await fresh.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    result.goals = [];
    for (const step of request.goals) {
      await selectModel(fresh, step.model);
      await fill(fresh, step.fields);
      await press(fresh);
      result.goals.push({ name: step.name, ...(await shown(fresh)) });
    }
  }
} finally {
  await browser.close();
}
result.console = consoleMessages;
result.pageErrors = pageErrors;
process.stdout.write(JSON.stringify(result) + "\n");
