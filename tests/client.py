"""A test SMTP client that reports every reply instead of raising on the first 5xx."""

from __future__ import annotations

from dataclasses import dataclass

import aiosmtplib


@dataclass(frozen=True)
class Reply:
    stage: str  # MAIL, RCPT or DATA: where the transaction ended
    code: int
    text: str


async def send(
    port: int,
    sender: str,
    recipients: list[str],
    data: bytes,
    options: list[str] | None = None,
) -> Reply:
    """One SMTP transaction with the relay on 127.0.0.1:port."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="client.test",
                             start_tls=False, timeout=30)  # fmt: skip
    await client.connect()
    try:
        resp = await client.mail(sender, options=options or [])
        if resp.code != 250:
            return Reply("MAIL", resp.code, resp.message)
    except aiosmtplib.SMTPResponseException as exc:
        await client.quit()
        return Reply("MAIL", exc.code, exc.message)
    accepted = 0
    last = Reply("RCPT", 554, "no recipients")
    for rcpt in recipients:
        try:
            await client.rcpt(rcpt)
            accepted += 1
        except aiosmtplib.SMTPResponseException as exc:
            last = Reply("RCPT", exc.code, exc.message)
    if not accepted:
        await client.quit()
        return last
    try:
        resp = await client.data(data)
        result = Reply("DATA", resp.code, resp.message)
    except aiosmtplib.SMTPResponseException as exc:
        result = Reply("DATA", exc.code, exc.message)
    try:
        await client.quit()
    except aiosmtplib.SMTPException:
        client.close()
    return result
