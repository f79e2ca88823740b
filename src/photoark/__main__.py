"""``python -m photoark``: the same as the ``photoark`` command (used by the systemd unit)."""

from photoark.cli.main import main

main()
