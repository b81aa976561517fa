// Renders openapi.json as a list of operations that can be tried from the page. No framework,
// no network but this service.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function operation(path, method, op) {
  const inputs = {};
  const form = el("div");
  for (const p of op.parameters || []) {
    const input = el("input", { name: p.name, placeholder: p.schema.type });
    inputs[p.name] = { input, where: p.in };
    form.append(el("label", {}, `${p.name} (${p.in}${p.required ? ", required" : ""}) `, input));
  }
  const output = el("pre");
  const button = el("button", { type: "button" }, "Try it");
  button.addEventListener("click", async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const [name, { input, where }] of Object.entries(inputs)) {
      if (!input.value) continue;
      if (where === "path") url = url.replace(`{${name}}`, encodeURIComponent(input.value));
      else query.append(name, input.value);
    }
    const qs = query.toString();
    const headers = {};
    const key = document.getElementById("api-key").value;
    if (op.security && key) headers["X-API-Key"] = key;
    output.textContent = "…";
    try {
      const response = await fetch(url + (qs ? `?${qs}` : ""), { method: method.toUpperCase(), headers, redirect: "manual" });
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      output.textContent = `${response.status || "redirect"}\n${shown}`;
    } catch (e) {
      output.textContent = String(e);
    }
  });
  const statuses = Object.entries(op.responses).map(([s, r]) => `${s} ${r.description}`).join("\n");
  return el("details", {},
    el("summary", {}, el("span", { class: `method ${method}` }, method), " ", el("code", {}, path), " — ", op.summary),
    form, button, el("pre", {}, statuses), output);
}

async function main() {
  const target = document.getElementById("operations");
  const spec = await (await fetch("openapi.json")).json();
  target.textContent = "";
  for (const [path, methods] of Object.entries(spec.paths)) {
    if (path.startsWith("/v1/")) continue;
    for (const [method, op] of Object.entries(methods)) target.append(operation(path, method, op));
  }
}

main().catch((e) => { document.getElementById("operations").textContent = String(e); });
