"""State changes of the rooms domain: the only callers of ``auth.base.emit`` here.

Contract (zulip's): ``check_*`` validates untrusted input, then acts; ``do_*`` trusts its
inputs. None of them commits — the edge owns the transaction and publishes the outbox
after commit.
"""
