"""E-mail over SMTP with aiosmtplib (STARTTLS or implicit TLS, optional login).

The notice's Markdown goes as the plain-text body; the subject is its title. Connection errors,
timeouts and 4xx replies are retried; a 5xx refusal of the recipients or the sender is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from gateway.notify.base import NotifyError
from gateway.notify.notice import Notice


class SmtpMailer:
    kind = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        to: Sequence[str],
        starttls: bool = True,
        use_tls: bool = False,
        username: str = "",
        password: str = "",
        timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self._host = host
        self._port = port
        self._sender = sender
        self._to = tuple(to)
        self._starttls = starttls
        self._use_tls = use_tls
        self._username = username
        self._password = password
        self._timeout_s = timeout_s

    def message(self, notice: Notice, link: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = ", ".join(self._to)
        msg["Subject"] = f"[mediagate] {notice.title}"
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="mediagate")
        msg["X-Mediagate-Event"] = notice.event
        msg.set_content(notice.text + (f"\n{link}\n" if link else ""), charset="utf-8")
        return msg

    async def send(self, notice: Notice, link: str) -> None:
        import aiosmtplib  # lazy: only deployments with an e-mail channel load it

        try:
            await aiosmtplib.send(
                self.message(notice, link),
                hostname=self._host,
                port=self._port,
                start_tls=self._starttls and not self._use_tls,  # False: plain, as configured
                use_tls=self._use_tls,
                username=self._username or None,
                password=self._password or None,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise NotifyError(f"SMTP refused: {exc.code}", retry=exc.code < 500) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise NotifyError(f"SMTP unreachable: {type(exc).__name__}") from None
