"""Alert e-mails through a real SMTP receiver on 127.0.0.1 (aiosmtpd): a hostile feed title and
link reach the analyst's mail client as text, never as live HTML."""

from __future__ import annotations

import email
import email.policy
from html.parser import HTMLParser

import pytest

from monitor import alerts
from tests.webhook import free_port

aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in requirements-dev.txt")

HOSTILE = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire &lt;img src=http://127.0.0.1:9/src onerror=alert(2)&gt;</title>
<item>
  <title>Europol raid &amp;lt;&amp;lt;b&amp;gt;img src=x onerror=alert(1)&amp;gt; in Lyon</title>
  <link>https://wire.example.org/1"&gt;&lt;img/src=x onerror=alert(3)&gt;</link>
  <guid>1</guid>
</item>
</channel></rss>"""


class _Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = _Inbox()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, f"mailto://127.0.0.1:{controller.port}?from=monitor@example.org&to=analyst@example.org&mode=insecure"
    finally:
        controller.stop()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def test_a_hostile_title_and_link_reach_the_mail_client_as_text(db, smtp):
    from monitor.ingest import ingest_document

    inbox, url = smtp
    alerts.add_alert(db, "Europol", "europol", notify=[url], allow_private=True)
    ingest_document(db, HOSTILE, source="Wire")
    report = alerts.deliver_due(db, allow_private=True)
    assert len(inbox.messages) == 1, report
    (row,) = alerts.list_inbox(db)
    assert "<" not in row.title.replace("< ", "")  # stored without any tag it spelled
    message = inbox.messages[0]
    parts = [p for p in message.walk() if not p.is_multipart()]
    for part in parts:
        content = part.get_content()
        if part.get_content_type() == "text/html":
            tags = _Tags()
            tags.feed(content)
            assert not [t for t, _ in tags.tags if t in ("img", "script", "a", "svg", "iframe")], tags.tags
            assert not any(name.startswith("on") for _, attrs in tags.tags for name, _ in attrs)
        assert "onerror=alert(1)" not in content or "<img" not in content
        assert '"><img' not in content  # the link cannot close an attribute
    text = "\n".join(p.get_content() for p in parts)
    assert "Europol raid" in text and "in Lyon" in text
    assert "https://wire.example.org/1%22%3E%3Cimg/src=xonerror=alert(3)%3E" in text
