"""Mail to people: notices sent to an account's address in the mail directory,
through the operator's SMTP relay (``IDP_SMTP_*``). Off when ``IDP_SMTP_HOST`` is empty.

A notice is composed in the transaction that makes the change and handed to a sender
thread only when that transaction commits (``send_after_commit``): a rolled-back change
sends nothing, and a slow or broken relay never holds up or fails the change itself. A
failed send is logged (without the message or any credential) and counted
(``govid_mail_sent_total{result="failed"}``)."""
