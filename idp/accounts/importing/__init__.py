"""Bulk import of accounts (the MailGoThai migration, DESIGN §6): rows read and checked
(``rows``), validated and written in chunks (``service``, ``writer``), in the background
with progress (``jobs``, ``models``). Used by the admin API and ``idp accounts import``."""
