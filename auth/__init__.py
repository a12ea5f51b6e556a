"""Identity, login sessions, roles and the permission matrix — and the shared base.

- ``base``: the one declarative ``Base``, ``utcnow()`` and the event outbox (``emit``).
- ``models``: ``User`` and ``LoginSession``.
- ``passwords``: argon2id hashing (argon2-cffi).
- ``sessions``: open / look up / revoke server-side login sessions. The cookie holds a
  256-bit random token; the table stores only its SHA-256, so a database leak does not
  leak live sessions.
- ``roles``: ``Role``, ``Permission`` and ``PERMISSIONS`` — the single permission matrix,
  pure data, rendered into ``docs/permissions.md``.

``auth`` imports nothing from the other packages: it is the bottom of the stack.
"""
