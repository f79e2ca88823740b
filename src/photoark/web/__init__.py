"""The local web app (``photoark web``): the library, the duplicate and similar-photo review,
free-up-space, the trash and the daemon's status, in a browser on this machine.

End-to-end encryption holds: the browser talks only to this local process, which decrypts with
the keys the device already holds; the server still sees nothing. The app is thin over the same
services the CLI uses (one rule, two faces):

- :mod:`.security`: who may ask (loopback, ``Host`` check, one-time login link, session cookie,
  CSRF token, headers);
- :mod:`.cache`: thumbnails kept encrypted on disk, originals decrypted for the session only,
  both inside the client's 0700 home;
- :mod:`.hub`: changes pushed to open pages (server-sent events), from the server's change
  stream and the daemon's status board;
- :mod:`.jobs`: long work (similar scan, free-up plan) in the background, its progress pushed;
- :mod:`.library`, :mod:`.review`, :mod:`.cleanup`, :mod:`.statuspage`: the services behind the
  screens;
- :mod:`.routes`: thin HTTP routes; :mod:`.app` assembles them; :mod:`.runner` serves them.

It sits above ``client`` and ``optimize``, beside ``cli`` (see the import-linter contracts).
"""
