// Live screening on the compose page: while the editor types, the draft goes to
// /console/api/screen and the findings and the approvals it will need are shown beside the form.
// Everything is written with textContent (never innerHTML): the draft is untrusted text.
"use strict";

(function () {
  const form = document.querySelector("form[data-compose]");
  const panel = document.getElementById("screen-result");
  if (!form || !panel) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const DECISIONS = { pass: "可发布", review: "需审核", block: "禁止发布" };
  const ACTIONS = { block: "禁止", review: "需审核", require: "需审核", warn: "提示" };
  const ROLES = {
    editor: "编辑", unit_head: "单位负责人", brand_pr: "品牌公关部",
    leader: "分管领导", admin: "管理员", auditor: "审计",
  };
  const FIELDS = { title: "标题", digest: "摘要", author: "作者", content: "正文", source: "来源" };
  let timer = null;
  let seq = 0;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function value(name) {
    const field = form.elements.namedItem(name);
    return field ? field.value : "";
  }

  function draft() {
    const accounts = Array.from(form.querySelectorAll('input[name="accounts"]:checked')).map((c) => c.value);
    return {
      post: {
        title: value("title"), digest: value("digest"), author: value("author"),
        content: value("content"), source: value("source"), category: value("category"),
      },
      accounts: accounts,
    };
  }

  function show(result) {
    panel.replaceChildren();
    const decision = el("p", "检查结果：" + (DECISIONS[result.decision] || result.decision),
      "banner " + (result.decision === "block" ? "danger" : result.decision === "review" ? "warn" : "ok"));
    decision.dataset.testid = "screen-decision";
    decision.dataset.decision = result.decision;
    panel.append(decision);
    (result.warnings || []).forEach((w) => panel.append(el("p", w, "banner warn")));
    panel.append(el("h3", "发现 " + result.findings.length + " 处"));
    const list = el("ul", undefined, "findings");
    result.findings.forEach((f) => {
      const item = el("li");
      item.append(el("span", ACTIONS[f.action] || f.action, "tag " + f.action));
      item.append(el("span", (FIELDS[f.field] || f.field) + "「" + f.text + "」 " + f.category + "/" + f.rule));
      item.dataset.testid = "screen-finding";
      list.append(item);
    });
    panel.append(list);
    panel.append(el("h3", "需要的审批"));
    if (!result.accounts.length) panel.append(el("p", "选择账号后显示。", "muted"));
    result.accounts.forEach((a) => {
      panel.append(el("p", a.name + "（" + a.account + "）", "approval-account"));
      const needs = el("ul", undefined, "findings");
      if (!a.required_approvals.length) needs.append(el("li", "无需额外审批", "muted"));
      a.required_approvals.forEach((r) => {
        const label = (ROLES[r.role] || r.role) + (r.unit ? " @ " + r.unit : "");
        const item = el("li", label + (r.reasons.length ? "：" + r.reasons.join("；") : ""));
        item.dataset.testid = "screen-required";
        needs.append(item);
      });
      panel.append(needs);
    });
  }

  async function run() {
    const mine = ++seq;
    const body = draft();
    if (!body.post.content.trim()) {
      panel.replaceChildren(el("p", "输入正文后自动检查。", "muted"));
      return;
    }
    try {
      const resp = await fetch("/console/api/screen", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      const data = await resp.json();
      if (mine !== seq) return; // a newer draft was sent meanwhile
      if (!resp.ok) {
        panel.replaceChildren(el("p", data.detail || "检查失败", "banner warn"));
        return;
      }
      show(data);
    } catch (err) {
      if (mine === seq) panel.replaceChildren(el("p", "暂时无法检查：" + err, "banner warn"));
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(run, 400);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  run();
})();
