"""Email delivery by SMTP: one message per alert per generation, listing its hits with links.

The server, STARTTLS and credentials come from the environment (DeliveryPolicy.mail)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from search.alerts.deliver import DeliveryFailed, DeliveryPolicy
from search.alerts.deliver.payload import hits_text
from search.alerts.records import Delivery


def message(delivery: Delivery, policy: DeliveryPolicy) -> EmailMessage:
    alert = delivery.alert
    mail = EmailMessage()
    mail["Subject"] = f"[search alert] {alert.name}: {len(delivery.hits)} new"
    mail["From"] = policy.mail.sender
    mail["To"] = alert.email or ""
    mail["Message-ID"] = f"<alert-{alert.id}-{delivery.generation}@search>"
    mail.set_content(hits_text(alert, delivery.hits, policy))
    return mail


def send(delivery: Delivery, policy: DeliveryPolicy) -> None:
    if not delivery.alert.email:
        raise DeliveryFailed("the alert has no email address any more", permanent=True)
    server = policy.mail
    try:
        with smtplib.SMTP(server.host, server.port, timeout=policy.timeout) as smtp:
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if server.user:
                smtp.login(server.user, server.password or "")
            smtp.send_message(message(delivery, policy))
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"the mail server refused {delivery.alert.email}: "
                             f"{exc.recipients}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"mail to {delivery.alert.email} via {server.host}:"
                             f"{server.port} failed: {exc}") from None
