"""The client: everything that runs on the user's device and talks to a photoark server.

Sub-packages, by job:

- :mod:`.state`: the local SQLite state DB (account and keys, mirror of the library, stat
  cache, upload and thumbnail queues, daemon queue, settings, watched folders). All the
  client's SQL lives here.
- :mod:`.pipeline`: one backup run: scan → identify → decide → upload (parts or bundles) →
  commit → thumbnails.
- :mod:`.library`: the library on the server as this device sees it: diff sync, albums, trash,
  deletion marks, export, embeddings, and the sealed metadata of files and albums.
- :mod:`.daemon`: automatic backup: folder watches, settling, upload policy (battery,
  metered), sleep inhibitor, the daemon loop and its systemd unit.
- :mod:`.local`: the embedded local server and local account that ``photoark quickstart``
  sets up.

Top-level modules: :mod:`.api` (the HTTP transport, the only module that speaks HTTP),
:mod:`.errors` (every client error), :mod:`.home` (where a device keeps its state),
:mod:`.lock`, :mod:`.session` (home + state DB + API client, the handle every job takes),
:mod:`.auth`, :mod:`.settings`, :mod:`.doctor`, :mod:`.status`.

Imports: ``photoark.crypto``, ``photoark.protocol``, ``photoark.media``, ``photoark.ml``; never
``photoark.server``, ``photoark.optimize``, ``photoark.web`` or ``photoark.cli`` (checked by
import-linter, see ``pyproject.toml``). Inside the client: ``state`` imports no other client
sub-package; ``pipeline`` and ``library`` import ``state`` and the top-level modules;
``daemon`` sits above ``pipeline`` and ``library``.
"""
