"""Drafts as content: rendering of user Markdown now; CRDT drafts, versions and exports
come with the shared-drafts work.

``rendering`` is the one place Markdown becomes HTML, for chat messages and drafts alike:
rendered once on the server, stored beside the source, never re-rendered in a browser.
"""
