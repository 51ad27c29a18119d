"""Safe display of text that came from strangers' feeds: links, Markdown, error lines."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import streamlit as st


def safe_link(url: object) -> str | None:
    """The URL if it is a plain http(s) link, else None (javascript:, data:, file: never link)."""
    if not isinstance(url, str):
        return None
    candidate = url.strip()
    if any(ord(c) < 0x21 for c in candidate):  # control chars and spaces hide schemes (jav\tascript:)
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return candidate


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'])")
_WORD_JOINER = "\u2060"  # invisible and unbreakable: splits a markup token without changing what is read


def md(value: object) -> str:
    """Text from a feed, a URL or a user, made safe to put inside Markdown: shown as typed.

    Every element Streamlit renders as Markdown (st.caption, st.write, st.success, st.toast…)
    would otherwise load `![x](http://…)` as a remote image, make `[Re-login](http://…)` a live
    link and render `:red[…]`, `$…$` and `:material/…:`. Backslashes escape the Markdown
    characters; a word joiner breaks what escaping cannot: colon directives and icons, and the
    bare URLs, `www.` names and e-mail addresses that GitHub Markdown turns into links.
    """
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))
    text = re.sub(r":(?=[^\W\d_])", ":" + _WORD_JOINER, text)
    text = re.sub(r"(?<=[A-Za-z])\\:(?=//)", _WORD_JOINER + r"\\:", text)
    text = re.sub(r"(?i)(?<![\w])(www)(?=\\\.)", r"\1" + _WORD_JOINER, text)
    return text.replace("@", "@" + _WORD_JOINER).replace("\n", " ")


def show_error(e: Exception) -> None:
    """A MonitorError's one line; it may quote the query, a name or a URL, so it is escaped."""
    st.error(md(str(e) or type(e).__name__), icon=":material/error:")

