"""Accessibility checks run on the page as it is: labels, names, width."""

from __future__ import annotations

from typing import Any

#: Every visible form control has a visible label (or, for a radio, the label around it),
#: and every visible button a name. Returns what breaks the rule.
_UNLABELLED = """
() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const problems = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (!visible(el) || el.type === 'hidden') continue;
    const labels = [...(el.labels || [])].filter(visible);
    if (!labels.length || !labels.some((l) => l.textContent.trim())) {
      problems.push(`${el.tagName.toLowerCase()}[name=${el.name}] has no visible label`);
    }
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!visible(el)) continue;
    const name = (el.getAttribute('aria-label') || el.textContent || '').trim();
    if (!name) problems.push(`a ${el.tagName.toLowerCase()} without a name`);
  }
  return problems;
}
"""

_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def accessibility_problems(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(_UNLABELLED)
    return problems


def horizontal_overflow(page: Any) -> int:
    overflow: int = page.evaluate(_OVERFLOW)
    return overflow
