"""Who may do what (DESIGN §6): the caller of the admin API or SCIM, its authority over
the agency tree (``scope``), and the context an admin operation runs with (``context``).
Below the HTTP surfaces; the domain's admin use cases build on it. No web framework here.
"""
