"""``python -m idp.cli`` (the same as the ``idp`` console script)."""

from idp.cli import main

main()
