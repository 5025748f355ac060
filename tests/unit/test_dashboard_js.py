"""The dashboard's own scripts never turn a string into HTML or code: every value from the API
is untrusted and is put in the page as text (textContent, attributes, text nodes)."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "functions" / "dashboard" / "static"
FORBIDDEN = {
    "innerHTML": r"\binnerHTML\b",
    "outerHTML": r"\bouterHTML\b",
    "insertAdjacentHTML": r"\binsertAdjacentHTML\b",
    "document.write": r"\bdocument\s*\.\s*write(ln)?\b",
    "eval": r"\beval\s*\(",
    "new Function": r"\bnew\s+Function\b",
    "setTimeout/setInterval with a string": r"\bset(Timeout|Interval)\s*\(\s*[\"'`]",
    "createContextualFragment": r"\bcreateContextualFragment\b",
    "DOMParser": r"\bDOMParser\b",
    "srcdoc": r"\bsrcdoc\b",
    "javascript: URL": r"javascript:",
}


def _scripts() -> list[Path]:
    return sorted(STATIC.glob("*.js"))


def test_the_app_has_its_modules() -> None:
    names = {path.name for path in _scripts()}
    assert {"app.js", "dom.js", "api.js", "view-payment.js", "view-admin.js"} <= names
    assert "chart.umd.js" not in names  # the library is installed by npm, never committed


def test_no_script_parses_strings_as_html_or_code() -> None:
    found = [
        f"{path.name}:{number}: {label}"
        for path in _scripts()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for label, pattern in FORBIDDEN.items()
        if re.search(pattern, line)
    ]
    assert found == []


def test_the_check_catches_what_it_looks_for(tmp_path: Path) -> None:
    samples = [
        "el.innerHTML = value;",
        "el.outerHTML = x",
        "el.insertAdjacentHTML('beforeend', x)",
        "document.write(x)",
        "eval(code)",
        "new Function('return 1')",
        "setTimeout('alert(1)', 10)",
    ]
    for sample in samples:
        assert any(re.search(p, sample) for p in FORBIDDEN.values()), sample


def test_the_key_is_kept_in_session_storage_only() -> None:
    for path in _scripts():
        text = path.read_text(encoding="utf-8")
        assert "document.cookie" not in text, path.name
        for line in text.splitlines():
            if "localStorage" in line and not line.lstrip().startswith("//"):
                # only the theme choice is kept across tabs
                assert "THEME" in line or "theme" in line, f"{path.name}: {line}"
    api = (STATIC / "api.js").read_text(encoding="utf-8")
    assert "sessionStorage.setItem(KEY, key)" in api
    assert "Authorization = `Bearer ${key}`" in api


def test_the_shell_has_no_inline_script_style_or_handler() -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "<style" not in page
    assert not re.search(r"\s(style|on[a-z]+)\s*=", page)
